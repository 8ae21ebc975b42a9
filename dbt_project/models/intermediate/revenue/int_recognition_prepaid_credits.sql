-- Revenue of prepaid credit blocks per accounting period (scenario-format.md, "Revenue
-- recognition"; ASC 606-10-55-46 to 55-49):
--   drawdown: recognized as the usage it pays for occurs. Per block, usage line and billing
--   period, cumulative rounding within the period: the drawdown of the events up to a month's
--   end, rounded, and in the period's last month the rest of what the block paid there
--   (int_credit_applications, the amount invoiced as credit applied). A block paying for
--   several usage lines splits that amount by their share of the draw, the last line (by key)
--   taking the rounding rest, so the parts add up to the invoiced amount exactly.
--   breakage, at_expiry: the unused balance on the expiry date.
--   breakage, proportional: drawdown × rate / (1 − rate) alongside each drawdown, capped at the
--   expected breakage (amount × rate) and at what is unused; at expiry the rest of the unused
--   balance. Cumulative too: breakage-to-date follows drawdown-to-date.
-- A block's recognized total is its amount once it has expired.
with blocks as (
    select distinct
        credit_line_id,
        contract_id,
        amount,
        purchase_date,
        expiry_date,
        breakage_method,
        expected_breakage_rate,
        -- The rate in 10^-9 units: the breakage ratio rate / (1 − rate) becomes a ratio of whole
        -- numbers for the exact prorate macro (a decimal part or whole would be truncated).
        cast(expected_breakage_rate * 1000000000 as {{ dbt.type_bigint() }}) as expected_breakage_rate_nanos
    from {{ ref('int_prepaid_credit_blocks') }}
    where purchase_date <= {{ as_of_date() }}
),

currencies as (
    select * from {{ ref('int_contract_currencies') }}
),

months as (
    select
        period_start,
        period_end
    from {{ ref('int_accounting_periods') }}
),

periods as (
    select
        billing_period_key,
        period_start,
        period_end
    from {{ ref('int_billing_periods') }}
),

draw_events as (
    select
        credit_line_id,
        usage_line_id,
        usage_line_key,
        contract_id,
        billing_period_key,
        event_date,
        applied
    from {{ ref('int_credit_drawdown') }}
),

-- The block's draw per usage line and period, as a whole number of 10^-9 units, so it can be a
-- share in the exact prorate macro.
draw_per_line as (
    select
        credit_line_id,
        usage_line_id,
        usage_line_key,
        billing_period_key,
        cast(round(sum(applied) * 1000000000, 0) as {{ dbt.type_bigint() }}) as drawn_nanos
    from draw_events
    group by credit_line_id, usage_line_id, usage_line_key, billing_period_key
),

shares as (
    select
        draw_per_line.*,
        applications.applied_amount,
        applications.contract_id,
        sum(draw_per_line.drawn_nanos) over (
            partition by draw_per_line.credit_line_id, draw_per_line.billing_period_key
        ) as period_drawn_nanos,
        row_number() over (
            partition by draw_per_line.credit_line_id, draw_per_line.billing_period_key
            order by draw_per_line.usage_line_key desc
        ) as reverse_line_rank,
        currencies.minor_units
    from draw_per_line
    inner join {{ ref('int_credit_applications') }} as applications
        on draw_per_line.credit_line_id = applications.credit_line_id
        and draw_per_line.billing_period_key = applications.billing_period_key
    inner join currencies
        on applications.contract_id = currencies.contract_id
),

proportional_shares as (
    select
        *,
        case
            when period_drawn_nanos = drawn_nanos then applied_amount
            else {{ prorate('applied_amount', 'drawn_nanos', 'period_drawn_nanos', 'minor_units') }}
        end as proportional_amount
    from shares
),

allocated as (
    select
        credit_line_id,
        usage_line_id,
        billing_period_key,
        contract_id,
        minor_units,
        case
            when reverse_line_rank = 1
                then applied_amount - (sum(proportional_amount) over (
                    partition by credit_line_id, billing_period_key
                ) - proportional_amount)
            else proportional_amount
        end as allocated_amount
    from proportional_shares
),

draw_per_month as (
    select
        draw_events.credit_line_id,
        draw_events.usage_line_id,
        draw_events.billing_period_key,
        months.period_start as accounting_period_start,
        sum(draw_events.applied) as applied
    from draw_events
    inner join months
        on draw_events.event_date between months.period_start and months.period_end
    group by draw_events.credit_line_id, draw_events.usage_line_id, draw_events.billing_period_key, months.period_start
),

drawdown_months as (
    select
        allocated.*,
        periods.period_start as service_start,
        periods.period_end as service_end,
        months.period_start as accounting_period_start,
        months.period_end as accounting_period_end,
        coalesce(sum(draw_per_month.applied) over (
            partition by allocated.credit_line_id, allocated.usage_line_id, allocated.billing_period_key
            order by months.period_start
            rows between unbounded preceding and current row
        ), 0) as drawn_to_date
    from allocated
    inner join periods
        on allocated.billing_period_key = periods.billing_period_key
    inner join months
        on months.period_end >= periods.period_start
        and months.period_start <= periods.period_end
    left join draw_per_month
        on allocated.credit_line_id = draw_per_month.credit_line_id
        and allocated.usage_line_id = draw_per_month.usage_line_id
        and allocated.billing_period_key = draw_per_month.billing_period_key
        and months.period_start = draw_per_month.accounting_period_start
),

drawdown as (
    select
        {{ dbt.concat(["'drawdown:'", "credit_line_id", "':'", "usage_line_id", "':'", "billing_period_key"]) }}
            as obligation_key,
        'credit_drawdown' as obligation_kind,
        credit_line_id as contract_line_id,
        contract_id,
        credit_line_id,
        usage_line_id,
        billing_period_key,
        accounting_period_start,
        service_start,
        service_end,
        allocated_amount as obligation_total,
        case
            when accounting_period_end >= service_end then allocated_amount
            when {{ round_money('drawn_to_date', 'minor_units') }} > allocated_amount then allocated_amount
            else {{ round_money('drawn_to_date', 'minor_units') }}
        end as recognized_to_date
    from drawdown_months
),

block_applied as (
    select
        credit_line_id,
        sum(applied_amount) as applied_amount
    from {{ ref('int_credit_applications') }}
    group by credit_line_id
),

block_last_months as (
    select
        blocks.credit_line_id,
        max(drawdown.service_end) as last_draw_period_end
    from blocks
    left join drawdown
        on blocks.credit_line_id = drawdown.credit_line_id
    group by blocks.credit_line_id
),

block_months as (
    select
        blocks.*,
        currencies.minor_units,
        currencies.currency_code,
        months.period_start as accounting_period_start,
        months.period_end as accounting_period_end
    from blocks
    inner join block_last_months
        on blocks.credit_line_id = block_last_months.credit_line_id
    inner join currencies
        on blocks.contract_id = currencies.contract_id
    inner join months
        on months.period_end >= blocks.purchase_date
        and months.period_start <= case
            when block_last_months.last_draw_period_end > blocks.expiry_date then block_last_months.last_draw_period_end
            else blocks.expiry_date
        end
        and months.period_start <= {{ as_of_date() }}
),

-- The block's drawdown to date: the running sum, over its months, of what each of its drawdown
-- obligations adds in the month (an obligation's to-date value stays at its total after it).
drawdown_steps as (
    select
        credit_line_id,
        accounting_period_start,
        recognized_to_date - coalesce(lag(recognized_to_date) over (
            partition by obligation_key
            order by accounting_period_start
        ), 0) as drawn
    from drawdown
),

block_drawn_to_date as (
    select
        block_months.credit_line_id,
        block_months.accounting_period_start,
        sum(coalesce(steps.drawn, 0)) over (
            partition by block_months.credit_line_id
            order by block_months.accounting_period_start
            rows between unbounded preceding and current row
        ) as drawdown_to_date
    from block_months
    left join (
        select
            credit_line_id,
            accounting_period_start,
            sum(drawn) as drawn
        from drawdown_steps
        group by credit_line_id, accounting_period_start
    ) as steps
        on block_months.credit_line_id = steps.credit_line_id
        and block_months.accounting_period_start = steps.accounting_period_start
),

breakage as (
    select
        {{ dbt.concat(["'breakage:'", "block_months.credit_line_id"]) }} as obligation_key,
        'credit_breakage' as obligation_kind,
        block_months.credit_line_id as contract_line_id,
        block_months.contract_id,
        block_months.credit_line_id,
        cast(null as {{ dbt.type_string() }}) as usage_line_id,
        cast(null as {{ dbt.type_string() }}) as billing_period_key,
        block_months.accounting_period_start,
        block_months.purchase_date as service_start,
        block_months.expiry_date as service_end,
        case
            when block_months.expiry_date < {{ as_of_date() }}
                then block_months.amount - coalesce(block_applied.applied_amount, 0)
        end as obligation_total,
        case
            when block_months.expiry_date < {{ as_of_date() }}
                and block_months.accounting_period_end >= block_months.expiry_date
                then block_months.amount - drawn.drawdown_to_date
            when block_months.breakage_method = 'proportional' then least(
                {{ prorate('drawn.drawdown_to_date', 'block_months.expected_breakage_rate_nanos',
                           '(1000000000 - block_months.expected_breakage_rate_nanos)', 'block_months.minor_units') }},
                {{ round_money('block_months.amount * block_months.expected_breakage_rate', 'block_months.minor_units') }},
                block_months.amount - drawn.drawdown_to_date
            )
            else 0
        end as recognized_to_date
    from block_months
    inner join block_drawn_to_date as drawn
        on block_months.credit_line_id = drawn.credit_line_id
        and block_months.accounting_period_start = drawn.accounting_period_start
    left join block_applied
        on block_months.credit_line_id = block_applied.credit_line_id
)

{% for part in ['drawdown', 'breakage'] %}
select
    {{ part }}.obligation_key,
    {{ part }}.obligation_kind,
    {{ part }}.contract_line_id,
    {{ part }}.contract_id,
    {{ part }}.credit_line_id,
    {{ part }}.usage_line_id,
    {{ part }}.billing_period_key,
    {{ part }}.accounting_period_start,
    {{ part }}.service_start,
    {{ part }}.service_end,
    cast({{ part }}.obligation_total as {{ decimal_type() }}) as obligation_total,
    cast({{ part }}.recognized_to_date as {{ decimal_type() }}) as recognized_to_date,
    currencies.currency_code
from {{ part }}
inner join currencies
    on {{ part }}.contract_id = currencies.contract_id
{% if not loop.last %}union all{% endif %}
{%- endfor %}
