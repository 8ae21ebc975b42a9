-- The deferred revenue roll-forward per currency and month, subsidiaries and deferred accounts
-- summed.
select
    currency_code,
    accounting_period,
    period_start,
    period_status,
    sum(opening_balance) as opening_balance,
    sum(billed) as billed,
    sum(recognized) as recognized,
    sum(closing_balance) as closing_balance
from read_parquet('${published_dir}/current/rpt_deferred_revenue_rollforward.parquet')
group by all
