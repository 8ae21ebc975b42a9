-- Prepaid credit blocks month by month, for finance's credit page (issue 9): what each block held
-- at the month's start, what it was granted, what it paid (drew) and what expired in the month,
-- and what it held at the month's end. The draws are int_credit_applications' amounts (per billing
-- period, rounded once, as invoiced), spread over the months of the usage they paid for; a block's
-- rest expires in the month of the day after its expiry date (it is usable through that date).
-- Months run from the block's purchase to the run date's month, or to the month it expired. The
-- run date's closing balance equals int_credit_block_balances' remaining amount (a singular test).
with blocks as (
    select * from {{ ref('int_credit_block_balances') }}
),

block_months as (
    select
        blocks.*,
        months.accounting_period,
        months.period_start,
        months.period_end
    from blocks
    inner join {{ ref('int_accounting_periods') }} as months
        on months.period_end >= blocks.purchase_date
        and months.period_start <= {{ as_of_date() }}
        and months.period_start <= {{ dbt.dateadd('day', 1, 'blocks.expiry_date') }}
),

-- Usage draws on a block event by event (int_credit_drawdown), unrounded; the invoice applies
-- each billing period's draw rounded once (int_credit_applications). A period's rounded amount is
-- spread over the months of its events: each month gets the rounded cumulative draw through it
-- less the one through the month before, and the period's last month the rest, so the months add
-- up to the invoiced amount exactly.
event_draws as (
    select
        credit_line_id,
        billing_period_key,
        cast({{ dbt.date_trunc('month', 'event_date') }} as date) as draw_month,
        sum(applied) as applied
    from {{ ref('int_credit_drawdown') }}
    group by 1, 2, 3
),

cumulative_draws as (
    select
        event_draws.credit_line_id,
        event_draws.billing_period_key,
        event_draws.draw_month,
        applications.applied_amount,
        blocks.minor_units,
        sum(event_draws.applied) over (
            partition by event_draws.credit_line_id, event_draws.billing_period_key
            order by event_draws.draw_month
            rows between unbounded preceding and current row
        ) as applied_through_month,
        event_draws.draw_month = max(event_draws.draw_month) over (
            partition by event_draws.credit_line_id, event_draws.billing_period_key
        ) as is_last_month
    from event_draws
    inner join {{ ref('int_credit_applications') }} as applications
        on event_draws.credit_line_id = applications.credit_line_id
        and event_draws.billing_period_key = applications.billing_period_key
    inner join blocks
        on event_draws.credit_line_id = blocks.credit_line_id
),

drawn_through as (
    select
        credit_line_id,
        billing_period_key,
        draw_month,
        case
            when is_last_month then applied_amount
            else least({{ round_money('applied_through_month', 'minor_units') }}, applied_amount)
        end as drawn_through_month
    from cumulative_draws
),

draws as (
    select
        credit_line_id,
        draw_month,
        sum(drawn_through_month - coalesce(drawn_before_month, 0)) as drawn_amount
    from (
        select
            *,
            lag(drawn_through_month) over (
                partition by credit_line_id, billing_period_key order by draw_month
            ) as drawn_before_month
        from drawn_through
    ) as spread
    group by 1, 2
),

movements as (
    select
        block_months.*,
        case
            when block_months.purchase_date between block_months.period_start and block_months.period_end
                then block_months.granted_amount
            else 0
        end as granted_in_month,
        coalesce(draws.drawn_amount, 0) as drawn_in_month
    from block_months
    left join draws
        on block_months.credit_line_id = draws.credit_line_id
        and block_months.period_start = draws.draw_month
),

running as (
    select
        movements.*,
        sum(granted_in_month - drawn_in_month) over (
            partition by credit_line_id order by period_start
            rows between unbounded preceding and current row
        ) as balance_before_expiry
    from movements
),

expiring as (
    select
        running.*,
        case
            when {{ dbt.dateadd('day', 1, 'expiry_date') }} between period_start and period_end
                and {{ dbt.dateadd('day', 1, 'expiry_date') }} <= {{ as_of_date() }}
                then balance_before_expiry
            else 0
        end as expired_in_month
    from running
)

select
    {{ dbt.concat(["credit_line_key", "':'", "accounting_period"]) }} as credit_block_month_key,
    credit_line_key as credit_block_id,
    contract_key,
    customer_key,
    accounting_period,
    period_start,
    period_end,
    purchase_date,
    expiry_date,
    currency_code,
    cast(granted_amount as {{ decimal_type() }}) as block_amount,
    cast(balance_before_expiry - granted_in_month + drawn_in_month as {{ decimal_type() }}) as opening_balance,
    cast(granted_in_month as {{ decimal_type() }}) as granted,
    cast(drawn_in_month as {{ decimal_type() }}) as drawn,
    cast(expired_in_month as {{ decimal_type() }}) as expired,
    cast(balance_before_expiry - expired_in_month as {{ decimal_type() }}) as closing_balance
from expiring
