-- The usage contract lines usage is attributed to: customer, meter and the line's term (the
-- contract's, ended early by a cancellation). Events and daily rollups match them alike.
with line_terms as (
    select
        contract_line_id,
        min(effective_from) as line_start,
        max(effective_to) as line_end
    from {{ ref('int_contract_line_versions') }}
    group by contract_line_id
),

usage_lines as (
    select
        accounts.customer_key,
        accounts.account_id,
        contracts.contract_id,
        contracts.contract_key,
        contracts.currency_code,
        line_terms.line_start,
        line_terms.line_end,
        lines.contract_line_id,
        lines.line_key,
        lines.meter_id,
        lines.netsuite_subscription_line_id
    from {{ ref('stg_salesforce__contract_lines') }} as lines
    inner join {{ ref('stg_salesforce__contracts') }} as contracts
        on lines.contract_id = contracts.contract_id
    inner join {{ ref('stg_salesforce__accounts') }} as accounts
        on contracts.account_id = accounts.account_id
    inner join line_terms
        on lines.contract_line_id = line_terms.contract_line_id
    where lines.line_kind = 'usage'
        and not lines.is_deleted
        and not contracts.is_deleted
)

select * from usage_lines
