-- The deferred revenue roll-forward closes for every period: opening + billed − recognized =
-- closing, each period opens with the period before's closing, and the first opens at zero.
select
    rollforward_key,
    opening_balance,
    billed,
    recognized,
    closing_balance,
    previous_closing_balance
from (
    select
        *,
        lag(closing_balance) over (
            partition by subsidiary_code, currency_code, deferred_account_role
            order by period_start
        ) as previous_closing_balance
    from {{ ref('rpt_deferred_revenue_rollforward') }}
) as rollforward
where opening_balance + billed - recognized <> closing_balance
    or opening_balance <> coalesce(previous_closing_balance, 0)
