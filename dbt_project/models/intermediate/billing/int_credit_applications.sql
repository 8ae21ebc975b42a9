-- What each prepaid credit block pays per billing period (scenario-format.md, "Timing"): the
-- period's draw of int_credit_drawdown, rounded once like any invoice line. It is capped by
-- what the covered usage was invoiced in the period (credits are computed from rounded line
-- amounts) and by what is left of the block after the periods before, so rounding can never
-- make a block pay more than its amount (12.485 then 7.515 of a 20.00 block are 12.49 and
-- 7.51). The cap on the rest binds only in the period the block runs out; after it, nothing is
-- left. Invoiced as a negative credit_applied line (fct_invoice_lines) and recognized as the
-- block's drawdown (int_recognition_prepaid_credits).
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

capped_by_usage as (
    select
        drawn_per_period.*,
        blocks.amount as block_amount,
        periods.period_start,
        periods.period_end,
        contract_currencies.currency_code,
        case
            -- A period whose covered events lowered its charge draws nothing, and gives nothing
            -- back to the block: on a volume line an event that moves the period into a cheaper
            -- tier is charged a negative amount, and when the block starts mid-period it covers
            -- that event and not the ones before it. Counting the negative draw would raise
            -- what is left of the block above its amount (block_left below).
            when {{ round_money('drawn_per_period.applied', 'contract_currencies.minor_units') }} <= 0
                then 0
            when {{ round_money('drawn_per_period.applied', 'contract_currencies.minor_units') }}
                > coalesce(covered_usage.usage_invoiced, 0)
                then coalesce(covered_usage.usage_invoiced, 0)
            else {{ round_money('drawn_per_period.applied', 'contract_currencies.minor_units') }}
        end as rounded_applied
    from drawn_per_period
    inner join periods
        on drawn_per_period.billing_period_key = periods.billing_period_key
    inner join {{ ref('int_contract_currencies') }} as contract_currencies
        on drawn_per_period.contract_id = contract_currencies.contract_id
    inner join (select distinct credit_line_id, amount from {{ ref('int_prepaid_credit_blocks') }}) as blocks
        on drawn_per_period.credit_line_id = blocks.credit_line_id
    left join covered_usage
        on drawn_per_period.credit_line_id = covered_usage.credit_line_id
        and drawn_per_period.billing_period_key = covered_usage.billing_period_key
),

within_block as (
    select
        *,
        block_amount - coalesce(sum(rounded_applied) over (
            partition by credit_line_id
            order by period_start
            rows between unbounded preceding and 1 preceding
        ), 0) as block_left
    from capped_by_usage
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
