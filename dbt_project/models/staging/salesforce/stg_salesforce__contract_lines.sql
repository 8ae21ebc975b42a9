-- Contract lines the warehouse bills: every line's newest version but the ones quarantined for
-- terms it cannot bill as sold (stg_salesforce__quarantined_contract_terms).
with quarantined as (
    select record_id
    from {{ ref('stg_salesforce__quarantined_contract_terms') }}
    where record_type = 'contract_line'
)

select lines.*
from {{ ref('base_salesforce__contract_lines') }} as lines
left join quarantined
    on lines.contract_line_id = quarantined.record_id
where quarantined.record_id is null
