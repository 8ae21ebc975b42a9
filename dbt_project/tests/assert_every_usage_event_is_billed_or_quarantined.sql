{#- A check of the attributed events (the last model it reads): the delivered events are
    partitioned by delivery day in Dagster, and a check there would run before this model. -#}
{{ config(meta={'dagster': {'ref': {'name': 'int_usage_events_attributed'}}}) }}
-- Nothing is lost: every delivered event row is exactly one of billed (attributed to a contract
-- line), an exact duplicate of a billed or quarantined event, or quarantined with a reason.
-- Returns the rows that break it.
with delivered as (
    select event_row_key, disposition from {{ ref('stg_usage__delivered_events') }}
),

billed as (
    select event_row_key from {{ ref('int_usage_events_attributed') }}
    where contract_line_id is not null
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
