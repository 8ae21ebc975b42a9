-- Recognized and billed revenue per currency, month and revenue stream, summed exactly here
-- (DECIMAL) before the pages see them.
select
    currency_code,
    accounting_period,
    period_start,
    revenue_stream,
    schedule_status,
    sum(recognized) as recognized,
    sum(billed) as billed,
    sum(deferred_balance) as deferred_balance,
    count(distinct customer_key) as customers
from read_parquet('${published_dir}/current/fct_revenue_schedule.parquet')
group by all
