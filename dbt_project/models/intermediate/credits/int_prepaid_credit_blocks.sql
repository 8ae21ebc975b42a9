-- Prepaid credit blocks (prepaid_credit lines) and the usage lines each pays for, ranked per
-- contract in the order they are drawn: the one that expires first first (then the one bought
-- first, then by key, so the order is total).
with credit_lines as (
    select
        lines.contract_line_id,
        lines.line_key,
        lines.contract_id,
        lines.amount,
        lines.purchase_date,
        lines.expiry_date,
        lines.applies_to,
        lines.breakage_method,
        lines.expected_breakage_rate
    from {{ ref('stg_salesforce__contract_lines') }} as lines
    inner join {{ ref('stg_salesforce__contracts') }} as contracts
        on lines.contract_id = contracts.contract_id
    where lines.line_kind = 'prepaid_credit'
        and not lines.is_deleted
        and not contracts.is_deleted
        and contracts.contract_status = 'Activated'
),

usage_lines as (
    select
        contract_line_id,
        line_key,
        contract_id
    from {{ ref('stg_salesforce__contract_lines') }}
    where line_kind = 'usage'
        and not is_deleted
)

select
    {{ dbt.concat(["credit_lines.line_key", "':'", "usage_lines.line_key"]) }} as credit_coverage_key,
    credit_lines.contract_line_id as credit_line_id,
    credit_lines.line_key as credit_line_key,
    credit_lines.contract_id,
    credit_lines.amount,
    credit_lines.purchase_date,
    credit_lines.expiry_date,
    credit_lines.breakage_method,
    credit_lines.expected_breakage_rate,
    dense_rank() over (
        partition by credit_lines.contract_id
        order by credit_lines.expiry_date, credit_lines.purchase_date, credit_lines.line_key
    ) as drawdown_rank,
    usage_lines.contract_line_id as usage_line_id,
    usage_lines.line_key as usage_line_key
from credit_lines
inner join usage_lines
    on credit_lines.contract_id = usage_lines.contract_id
    and {{ line_in_list('credit_lines.applies_to', 'usage_lines.line_key') }}
