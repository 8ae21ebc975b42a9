-- Every usage invoice line traces to its usage record, and the money agrees: a period's usage
-- invoice lines (one per segment) add up to its usage record, and each adjustment's line equals
-- its adjustment record. A row is a line or record without its counterpart, or a difference.
with line_totals as (
    select
        line_key,
        billing_period_key,
        period_start,
        sum(amount) as invoiced
    from {{ ref('fct_invoice_lines') }}
    where invoice_line_kind = 'usage'
        and invoice_line_key not like '%:adj%'
    group by line_key, billing_period_key, period_start
),

period_lines as (
    select
        line_key,
        billing_period_key,
        sum(invoiced) as invoiced
    from line_totals
    group by line_key, billing_period_key
),

records as (
    select
        line_key,
        billing_period_key,
        amount
    from {{ ref('fct_usage_records') }}
    where usage_status <> 'adjustment'
),

adjustment_lines as (
    select
        substring(invoice_line_key, 7) as external_id,
        amount
    from {{ ref('fct_invoice_lines') }}
    where invoice_line_kind = 'usage'
        and invoice_line_key like '%:adj%'
),

adjustment_records as (
    select
        external_id,
        amount
    from {{ ref('fct_usage_records') }}
    where usage_status = 'adjustment'
)

select
    coalesce(records.line_key, period_lines.line_key) as line_key,
    coalesce(records.billing_period_key, period_lines.billing_period_key) as billing_period_key,
    records.amount as recorded,
    period_lines.invoiced
from records
full outer join period_lines
    on records.line_key = period_lines.line_key
    and records.billing_period_key = period_lines.billing_period_key
where records.amount is null
    or period_lines.invoiced is null
    or records.amount <> period_lines.invoiced

union all

select
    coalesce(adjustment_records.external_id, adjustment_lines.external_id),
    null,
    adjustment_records.amount,
    adjustment_lines.amount
from adjustment_records
full outer join adjustment_lines
    on adjustment_records.external_id = adjustment_lines.external_id
where adjustment_records.amount is null
    or adjustment_lines.amount is null
    or adjustment_records.amount <> adjustment_lines.amount
