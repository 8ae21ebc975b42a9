-- Usage per customer, meter and month (events and the meter's aggregated quantity).
select
    customer_key,
    meter_id,
    currency_code,
    strftime(usage_month, '%Y-%m') as accounting_period,
    usage_month as period_start,
    sum(event_count) as events,
    sum(quantity) as quantity
from read_parquet('${published_dir}/current/fct_usage_monthly.parquet')
group by all
