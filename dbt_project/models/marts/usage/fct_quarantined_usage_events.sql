-- Usage event rows that are not billed, each with its reason: rejected in staging (malformed,
-- conflicting duplicate, unknown customer or meter...), or valid but without a contract line to
-- bill it. Exact duplicates are not here: the event they copy is billed once.
-- A view (issue 23): a daily run does not read the event history to rebuild it.
{{ config(materialized="view") }}

with rejected as (
    select event_row_key, quarantine_reason
    from {{ ref('int_usage_events_quarantined') }}
),

-- Valid events of a customer, meter and day no usage line bills (found on the daily rollups).
unattributed_days as (
    select daily.customer_key, daily.meter_id, daily.usage_date, daily.delivered_on
    from {{ ref('int_usage_daily') }} as daily
    where daily.customer_key is not null
        and not exists (
            select 1 from {{ ref('int_usage_daily_attributed') }} as attributed
            where attributed.usage_day_key = daily.usage_day_key
        )
),

unattributed as (
    select events.event_row_key, 'no_billable_line' as quarantine_reason
    from {{ ref('int_usage_events_classified') }} as events
    inner join unattributed_days
        on events.customer_key = unattributed_days.customer_key
        and events.meter_id = unattributed_days.meter_id
        and {{ dbt.safe_cast('events.event_at', api.Column.translate_type('date')) }} = unattributed_days.usage_date
        and events.delivered_on = unattributed_days.delivered_on
    where events.disposition = 'valid'
),

not_billed as (
    select * from rejected
    union all
    select * from unattributed
)

select
    delivered.event_row_key,
    delivered.event_id,
    delivered.customer_key,
    delivered.meter_id,
    delivered.quantity_text,
    delivered.amount_text,
    delivered.event_timestamp_text,
    delivered.usage_source,
    delivered.file_name,
    delivered.file_row,
    delivered.delivered_on,
    not_billed.quarantine_reason
from not_billed
inner join {{ ref('int_usage_events_classified') }} as delivered
    on not_billed.event_row_key = delivered.event_row_key
