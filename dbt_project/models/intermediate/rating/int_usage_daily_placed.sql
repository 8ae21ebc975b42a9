-- Each daily usage rollup (int_usage_daily_attributed) in the billing segment of its line that
-- holds its usage day, with its delivery cohort: 0 for the period's first rating (every
-- delivery while the period is open; those by its finality cut-off once it is final), n >= 1
-- for the n-th later delivery day of a final period (each one an adjustment record). Attribution
-- depends only on customer, meter and day, segments and cohorts only on days: a rollup is placed
-- exactly as each of its events would be (fct_usage_lineage places the events through it).
with segments as (
    select *
    from {{ ref('int_billing_segments') }}
    where line_kind = 'usage'
),

finality as (
    select * from {{ ref('int_usage_period_finality') }}
),

placed_days as (
    select
        segments.billing_segment_key,
        segments.billing_period_key,
        segments.contract_line_id,
        segments.line_key,
        segments.contract_id,
        segments.line_version_key,
        segments.segment_number,
        daily.customer_key,
        daily.meter_id,
        daily.usage_date,
        daily.delivered_on,
        daily.event_count,
        daily.quantity_sum,
        daily.quantity_max,
        daily.amount_sum,
        daily.amount_max,
        daily.property_event_count,
        daily.latest_event_at,
        daily.latest_load_id,
        daily.latest_file_name,
        daily.latest_file_row,
        daily.latest_quantity,
        daily.latest_amount,
        case
            when finality.is_final and daily.delivered_on > finality.deliveries_counted_through
                then daily.delivered_on
        end as late_delivery_date
    from segments
    inner join {{ ref('int_usage_daily_attributed') }} as daily
        on segments.contract_line_id = daily.contract_line_id
        and daily.usage_date between segments.segment_start and segments.segment_end
    inner join finality
        on segments.contract_line_id = finality.contract_line_id
        and segments.billing_period_key = finality.billing_period_key
),

placed as (
    select
        *,
        case
            when late_delivery_date is null then 0
            else dense_rank() over (
                partition by contract_line_id, billing_period_key, late_delivery_date is null
                order by late_delivery_date
            )
        end as delivery_cohort
    from placed_days
)

select
    {{ dbt.concat(["billing_segment_key", "'|'", "customer_key", "'|'", "meter_id", "'|'",
                   dbt.safe_cast("usage_date", api.Column.translate_type("string")), "'|'",
                   dbt.safe_cast("delivered_on", api.Column.translate_type("string"))]) }} as placed_day_key,
    *
from placed
