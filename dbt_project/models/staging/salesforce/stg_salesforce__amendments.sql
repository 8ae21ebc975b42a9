-- Amendments the warehouse applies: every amendment's newest version but the ones quarantined for
-- terms it cannot bill as sold, and the ones of a quarantined line
-- (stg_salesforce__quarantined_contract_terms).
with quarantined as (
    select record_id, contract_line_id
    from {{ ref('stg_salesforce__quarantined_contract_terms') }}
)

select amendments.*
from {{ ref('base_salesforce__amendments') }} as amendments
where not exists (
    select 1 from quarantined
    where quarantined.record_id = amendments.amendment_id
        or quarantined.record_id = amendments.contract_line_id
)
