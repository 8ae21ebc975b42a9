{#- A check of the quarantine mart (the last model it reads): the classified events are
    partitioned by delivery day in Dagster, and a check there would run before the marts. -#}
{{ config(meta={'dagster': {'ref': {'name': 'fct_quarantined_usage_events'}}}) }}
-- Nothing is lost: every delivered event row is exactly one of billed (attributed to a contract
-- line: its day's rollup is), an exact duplicate of a billed or quarantined event, or quarantined with a reason.
-- Returns the rows that break it.
with delivered as (
    select event_row_key, disposition from {{ ref('int_usage_events_classified') }}
),

billed as (
    select events.event_row_key
    from {{ ref('int_usage_events_classified') }} as events
    inner join {{ ref('int_usage_daily_attributed') }} as daily
        on events.customer_key = daily.customer_key
        and events.meter_id = daily.meter_id
        and {{ dbt.safe_cast('events.event_at', api.Column.translate_type('date')) }} = daily.usage_date
        and events.delivered_on = daily.delivered_on
    where events.disposition = 'valid'
),

quarantined as (
    select event_row_key from {{ ref('fct_quarantined_usage_events') }}
),

accounted as (
    select event_row_key, 'billed' as outcome from billed
    union all
    select event_row_key, 'quarantined' as outcome from quarantined
    union all
    select event_row_key, 'duplicate' as outcome from delivered where disposition = 'duplicate'
)

select
    delivered.event_row_key,
    count(accounted.outcome) as outcomes
from delivered
left join accounted on delivered.event_row_key = accounted.event_row_key
group by delivered.event_row_key
having count(accounted.outcome) <> 1
