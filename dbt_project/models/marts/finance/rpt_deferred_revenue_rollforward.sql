-- Deferred revenue roll-forward per accounting period, subsidiary, currency and deferred
-- account (deferred revenue, prepaid credit deferred revenue): opening balance, billed,
-- recognized, closing balance, with opening + billed − recognized = closing and each period's
-- opening the period before's closing (assert_deferred_revenue_rollforward_closes). Balances
-- are fct_revenue_schedule's billed-to-date minus recognized-to-date over the lines, every line
-- counted in every period after its first (its balance carries forward once it stops moving).
-- A negative balance is revenue ahead of billing, which the unbilled receivable entries
-- reclassify.
with schedule as (
    select * from {{ ref('fct_revenue_schedule') }}
),

months as (
    select * from {{ ref('int_accounting_periods') }}
),

groups as (
    select
        subsidiary_code,
        currency_code,
        deferred_account_role,
        min(period_start) as first_month,
        max(period_start) as last_month
    from schedule
    group by subsidiary_code, currency_code, deferred_account_role
),

flows as (
    select
        subsidiary_code,
        currency_code,
        deferred_account_role,
        period_start,
        sum(billed) as billed,
        sum(recognized) as recognized
    from schedule
    group by subsidiary_code, currency_code, deferred_account_role, period_start
),

spine as (
    select
        groups.subsidiary_code,
        groups.currency_code,
        groups.deferred_account_role,
        months.accounting_period,
        months.period_start,
        months.period_end,
        case
            when months.is_complete then 'final'
            when months.period_start <= {{ as_of_date() }} then 'provisional'
            else 'scheduled'
        end as period_status,
        coalesce(flows.billed, 0) as billed,
        coalesce(flows.recognized, 0) as recognized
    from groups
    inner join months
        on months.period_start between groups.first_month and groups.last_month
    left join flows
        on groups.subsidiary_code = flows.subsidiary_code
        and groups.currency_code = flows.currency_code
        and groups.deferred_account_role = flows.deferred_account_role
        and months.period_start = flows.period_start
),

balances as (
    select
        *,
        sum(billed - recognized) over (
            partition by subsidiary_code, currency_code, deferred_account_role
            order by period_start
            rows between unbounded preceding and current row
        ) as closing_balance
    from spine
)

select
    {{ dbt.concat(["subsidiary_code", "':'", "currency_code", "':'", "deferred_account_role", "':'", "accounting_period"]) }}
        as rollforward_key,
    accounting_period,
    period_start,
    period_end,
    subsidiary_code,
    currency_code,
    deferred_account_role,
    period_status,
    cast(closing_balance - billed + recognized as {{ decimal_type() }}) as opening_balance,
    cast(billed as {{ decimal_type() }}) as billed,
    cast(recognized as {{ decimal_type() }}) as recognized,
    cast(closing_balance as {{ decimal_type() }}) as closing_balance
from balances
