-- What each prepaid credit block pays per billing period (scenario-format.md, "Timing"): the
-- period's draw of int_credit_drawdown, rounded once like any invoice line. It is capped by
-- what the covered usage was invoiced in the period (credits are computed from rounded line
-- amounts) and by what is left of the block after the periods before, so rounding can never
-- make a block pay more than its amount (12.485 then 7.515 of a 20.00 block are 12.49 and
-- 7.51). The cap on the rest binds only in the period the block runs out; after it, nothing is
-- left. Invoiced as a negative credit_applied line (fct_invoice_lines) and recognized as the
-- block's drawdown (int_recognition_prepaid_credits).
-- Several blocks paying in one period are rounded cumulatively in drawdown order (issue 22,
-- docs/scenarios.md): block k's line is round(draws of blocks 1..k) - round(draws of blocks
-- 1..k-1), each capped by the usage invoiced of the lines blocks 1..k cover. So the period's
-- credit lines add up to its whole draw rounded once and never exceed the usage they pay
-- (draws of 5.005 and 5.005 on usage invoiced at 10.01 are 5.01 and 5.00, not 5.01 twice).
with periods as (
    select * from {{ ref('int_billing_periods') }}
),

drawn_per_period as (
    select
        credit_line_id,
        credit_line_key,
        contract_id,
        billing_period_key,
        sum(applied) as applied
    from {{ ref('int_credit_drawdown') }}
    group by credit_line_id, credit_line_key, contract_id, billing_period_key
),

-- Usage as first invoiced (cohort 0): credits never pay adjustments.
covered_usage as (
    select
        blocks.credit_line_id,
        charges.billing_period_key,
        sum(charges.amount) as usage_invoiced
    from (select distinct credit_line_id, usage_line_id from {{ ref('int_prepaid_credit_blocks') }}) as blocks
    inner join {{ ref('int_usage_charges') }} as charges
        on blocks.usage_line_id = charges.contract_line_id
    where charges.delivery_cohort = 0
        and charges.consumed_through is null
        and charges.segment_start <= {{ as_of_date() }}
    group by blocks.credit_line_id, charges.billing_period_key
),

blocks as (
    select distinct
        credit_line_id,
        contract_id,
        amount,
        drawdown_rank
    from {{ ref('int_prepaid_credit_blocks') }}
),

-- A period whose covered events lowered its charge draws nothing, and gives nothing back to
-- the block: on a volume line an event that moves the period into a cheaper tier is charged a
-- negative amount, and when the block starts mid-period it covers that event and not the ones
-- before it. Counting the negative draw would raise what is left of the block above its amount
-- (block_left below).
drawn_in_order as (
    select
        drawn_per_period.*,
        blocks.amount as block_amount,
        blocks.drawdown_rank,
        sum(case when drawn_per_period.applied > 0 then drawn_per_period.applied else 0 end) over (
            partition by drawn_per_period.contract_id, drawn_per_period.billing_period_key
            order by blocks.drawdown_rank
            rows between unbounded preceding and current row
        ) as drawn_through
    from drawn_per_period
    inner join blocks
        on drawn_per_period.credit_line_id = blocks.credit_line_id
),

-- The usage invoiced in the period on the lines that the blocks drawn so far (this one and
-- those ranked before it) cover.
usage_covered_through as (
    select
        drawn_in_order.credit_line_id,
        drawn_in_order.billing_period_key,
        sum(charges.amount) as usage_invoiced
    from drawn_in_order
    inner join (
        select distinct
            earlier.credit_line_id,
            coverage.usage_line_id
        from blocks as earlier
        inner join blocks as ranked_before
            on earlier.contract_id = ranked_before.contract_id
            and ranked_before.drawdown_rank <= earlier.drawdown_rank
        inner join {{ ref('int_prepaid_credit_blocks') }} as coverage
            on ranked_before.credit_line_id = coverage.credit_line_id
    ) as covered_lines
        on drawn_in_order.credit_line_id = covered_lines.credit_line_id
    inner join {{ ref('int_usage_charges') }} as charges
        on covered_lines.usage_line_id = charges.contract_line_id
        and drawn_in_order.billing_period_key = charges.billing_period_key
    where charges.delivery_cohort = 0
        and charges.consumed_through is null
        and charges.segment_start <= {{ as_of_date() }}
    group by drawn_in_order.credit_line_id, drawn_in_order.billing_period_key
),

rounded_through as (
    select
        drawn_in_order.*,
        periods.period_start,
        periods.period_end,
        contract_currencies.currency_code,
        case
            when {{ round_money('drawn_in_order.drawn_through', 'contract_currencies.minor_units') }}
                > coalesce(usage_covered_through.usage_invoiced, 0)
                then coalesce(usage_covered_through.usage_invoiced, 0)
            else {{ round_money('drawn_in_order.drawn_through', 'contract_currencies.minor_units') }}
        end as applied_through
    from drawn_in_order
    inner join periods
        on drawn_in_order.billing_period_key = periods.billing_period_key
    inner join {{ ref('int_contract_currencies') }} as contract_currencies
        on drawn_in_order.contract_id = contract_currencies.contract_id
    left join usage_covered_through
        on drawn_in_order.credit_line_id = usage_covered_through.credit_line_id
        and drawn_in_order.billing_period_key = usage_covered_through.billing_period_key
),

capped_by_usage as (
    select
        rounded_through.*,
        case
            when rounded_through.applied <= 0 then 0
            else rounded_through.applied_through - coalesce(lag(rounded_through.applied_through) over (
                partition by rounded_through.contract_id, rounded_through.billing_period_key
                order by rounded_through.drawdown_rank
            ), 0)
        end as share_applied,
        coalesce(covered_usage.usage_invoiced, 0) as usage_invoiced
    from rounded_through
    left join covered_usage
        on rounded_through.credit_line_id = covered_usage.credit_line_id
        and rounded_through.billing_period_key = covered_usage.billing_period_key
),

capped as (
    select
        *,
        case
            when share_applied <= 0 then 0
            when share_applied > usage_invoiced then usage_invoiced
            else share_applied
        end as rounded_applied
    from capped_by_usage
),

within_block as (
    select
        *,
        block_amount - coalesce(sum(rounded_applied) over (
            partition by credit_line_id
            order by period_start
            rows between unbounded preceding and 1 preceding
        ), 0) as block_left
    from capped
)

select
    {{ dbt.concat(["credit_line_id", "':'", "billing_period_key"]) }} as credit_application_key,
    credit_line_id,
    credit_line_key,
    contract_id,
    billing_period_key,
    period_start,
    period_end,
    cast(case when rounded_applied > block_left then block_left else rounded_applied end as {{ decimal_type() }})
        as applied_amount,
    currency_code,
    cast({{ dbt.dateadd('day', 1, 'period_end') }} as date) as invoice_date
from within_block
where rounded_applied > 0
    and block_left > 0
