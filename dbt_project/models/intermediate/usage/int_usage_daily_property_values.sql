{{ config(
    materialized="incremental",
    on_schema_change="fail",
    **delivery_day_partitions()
) }}

-- The distinct values of the property a `unique_count` meter counts, per customer, meter, usage
-- day and delivery day: a distinct count over any days, segments and delivery cohorts is the
-- count of the distinct values among their rows (a sum of daily counts would count a value
-- seen on two days twice). Incremental as int_usage_daily, with its empty day markers.
with days_to_roll_up as (
    {{ delivery_days_written_since_last_run(ref('int_usage_events_classified'), 'classified_at') }}
),

values_seen as (
    select distinct
        events.customer_key,
        events.meter_id,
        {{ dbt.safe_cast('events.event_at', api.Column.translate_type('date')) }} as usage_date,
        events.delivered_on,
        {{ meter_property_text('events', 'meters.property') }} as property_text
    from {{ ref('int_usage_events_classified') }} as events
    inner join {{ ref('meters') }} as meters
        on events.meter_id = meters.meter_id
    where events.disposition = 'valid'
        and meters.aggregation = 'unique_count'
        and events.delivered_on in (select delivered_on from days_to_roll_up)
)

select
    customer_key,
    meter_id,
    usage_date,
    delivered_on,
    property_text,
    {{ run_stamp() }} as classified_at
from values_seen
where property_text is not null

union all

select
    cast(null as {{ dbt.type_string() }}) as customer_key,
    cast(null as {{ dbt.type_string() }}) as meter_id,
    cast(null as date) as usage_date,
    delivered_on,
    cast(null as {{ dbt.type_string() }}) as property_text,
    {{ run_stamp() }} as classified_at
from days_to_roll_up
