-- A prepaid credit never pays more than its amount over its life, and never more in a billing
-- period than the usage of the lines it covers was invoiced there (credits are applied from
-- rounded amounts, each period rounded once).
with applied as (
    select
        contract_key,
        line_key as credit_line_key,
        billing_period_key,
        -amount as applied
    from {{ ref('fct_invoice_lines') }}
    where invoice_line_kind = 'credit_applied'
),

blocks as (
    select distinct
        credit_line_key,
        amount
    from {{ ref('int_prepaid_credit_blocks') }}
),

covered_usage as (
    select
        coverage.credit_line_key,
        usage_lines.billing_period_key,
        sum(usage_lines.amount) as usage_invoiced
    from {{ ref('int_prepaid_credit_blocks') }} as coverage
    inner join {{ ref('fct_invoice_lines') }} as usage_lines
        on coverage.usage_line_key = usage_lines.line_key
        and usage_lines.invoice_line_kind = 'usage'
    group by coverage.credit_line_key, usage_lines.billing_period_key
),

per_period as (
    select
        credit_line_key,
        billing_period_key,
        sum(applied) as applied
    from applied
    group by credit_line_key, billing_period_key
)

select
    blocks.credit_line_key,
    null as billing_period_key,
    sum(applied.applied) as applied,
    max(blocks.amount) as limit_amount
from applied
inner join blocks
    on applied.credit_line_key = blocks.credit_line_key
group by blocks.credit_line_key
having sum(applied.applied) > max(blocks.amount)

union all

select
    per_period.credit_line_key,
    per_period.billing_period_key,
    per_period.applied,
    covered_usage.usage_invoiced
from per_period
left join covered_usage
    on per_period.credit_line_key = covered_usage.credit_line_key
    and per_period.billing_period_key = covered_usage.billing_period_key
where covered_usage.usage_invoiced is null
    or per_period.applied > covered_usage.usage_invoiced
