-- For each month-end deferred balance, the months it is scheduled to be recognized in.
select
    currency_code,
    snapshot_period,
    coalesce(recognition_period, 'unscheduled') as recognition_period,
    revenue_stream,
    sum(amount) as amount
from read_parquet('${published_dir}/current/rpt_deferred_revenue_waterfall.parquet')
group by all
