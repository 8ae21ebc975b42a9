{{ config(
    materialized="incremental",
    on_schema_change="fail",
    **delivery_day_partitions()
) }}

-- Valid usage per customer, meter, usage day (UTC) and delivery day: what rating needs of the
-- events, so no rating model reads events (issue 23). One row per group, with the meters'
-- aggregations kept apart so any of them can be combined over days, segments and delivery
-- cohorts: counts and sums add up, maxima take the max, and `latest` keeps the reading with the
-- greatest timestamp (ties in load order) with its place in that order.
-- Incremental by delivery day: the days int_usage_events_classified wrote since this model
-- last ran are rolled up again whole. Each such day also gets a row without a customer (an
-- empty marker), so a day whose events are all gone now still replaces the day's old rows.
with days_to_roll_up as (
    {{ delivery_days_written_since_last_run(ref('int_usage_events_classified'), 'classified_at') }}
),

events as (
    select
        events.customer_key,
        events.meter_id,
        {{ dbt.safe_cast('events.event_at', api.Column.translate_type('date')) }} as usage_date,
        events.delivered_on,
        events.quantity,
        events.amount,
        events.event_at,
        events.load_id,
        events.file_name,
        events.file_row,
        {{ meter_property_text('events', 'meters.property') }} as property_text,
        events.classified_at
    from {{ ref('int_usage_events_classified') }} as events
    inner join {{ ref('meters') }} as meters
        on events.meter_id = meters.meter_id
    where events.disposition = 'valid'
        and events.delivered_on in (select delivered_on from days_to_roll_up)
),

-- The last reading of each group: greatest event time, ties in load order.
ranked as (
    select
        *,
        row_number() over (
            partition by customer_key, meter_id, usage_date, delivered_on
            order by event_at desc, load_id desc, file_name desc, file_row desc
        ) as recency
    from events
),

rolled_up as (
    select
        customer_key,
        meter_id,
        usage_date,
        delivered_on,
        count(*) as event_count,
        sum(quantity) as quantity_sum,
        max(quantity) as quantity_max,
        sum(amount) as amount_sum,
        max(amount) as amount_max,
        count(property_text) as property_event_count,
        max(case when recency = 1 then event_at end) as latest_event_at,
        max(case when recency = 1 then load_id end) as latest_load_id,
        max(case when recency = 1 then file_name end) as latest_file_name,
        max(case when recency = 1 then file_row end) as latest_file_row,
        max(case when recency = 1 then quantity end) as latest_quantity,
        max(case when recency = 1 then amount end) as latest_amount,
        max(classified_at) as classified_at
    from ranked
    group by customer_key, meter_id, usage_date, delivered_on
)

select
    {{ dbt.concat(["customer_key", "'|'", "meter_id", "'|'",
                   dbt.safe_cast("usage_date", api.Column.translate_type("string")), "'|'",
                   dbt.safe_cast("delivered_on", api.Column.translate_type("string"))]) }} as usage_day_key,
    *
from rolled_up

union all

select
    cast(null as {{ dbt.type_string() }}) as usage_day_key,
    cast(null as {{ dbt.type_string() }}) as customer_key,
    cast(null as {{ dbt.type_string() }}) as meter_id,
    cast(null as date) as usage_date,
    days.delivered_on,
    0 as event_count,
    cast(null as {{ decimal_type() }}) as quantity_sum,
    cast(null as {{ decimal_type() }}) as quantity_max,
    cast(null as {{ decimal_type() }}) as amount_sum,
    cast(null as {{ decimal_type() }}) as amount_max,
    0 as property_event_count,
    cast(null as {{ dbt.type_timestamp() }}) as latest_event_at,
    cast(null as {{ dbt.type_string() }}) as latest_load_id,
    cast(null as {{ dbt.type_string() }}) as latest_file_name,
    cast(null as {{ dbt.type_bigint() }}) as latest_file_row,
    cast(null as {{ decimal_type() }}) as latest_quantity,
    cast(null as {{ decimal_type() }}) as latest_amount,
    {{ run_stamp() }} as classified_at
from days_to_roll_up as days
