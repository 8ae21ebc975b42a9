-- MRR per customer and month with the month's movement.
select
    customer_key,
    currency_code,
    accounting_period,
    period_start,
    recurring_mrr,
    usage_mrr,
    mrr,
    arr,
    previous_mrr,
    movement,
    new_mrr,
    reactivation_mrr,
    expansion_mrr,
    contraction_mrr,
    churned_mrr
from read_parquet('${published_dir}/current/fct_mrr.parquet')
