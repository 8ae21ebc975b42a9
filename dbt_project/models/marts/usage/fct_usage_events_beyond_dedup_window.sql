-- Valid usage events that were older than the dedup window when delivered (issue 23, item 4):
-- their ID was checked against the deliveries of the window only, so one of them may repeat an
-- event delivered before it. They are billed, never dropped; this list lets finance check them
-- with the sender before the invoice goes out (docs/decisions.md, "Dedup window").
-- A view: a daily run does not read the event history to rebuild it.
{{ config(materialized="view") }}

select
    classified.event_row_key,
    classified.event_id,
    classified.customer_key,
    classified.meter_id,
    classified.quantity,
    classified.event_at,
    classified.delivered_on,
    cast({{ dbt.datediff(dbt.safe_cast('classified.event_at', api.Column.translate_type('date')), 'classified.delivered_on', 'day') }}
        as {{ dbt.type_int() }}) as days_old_when_delivered,
    classified.usage_source,
    classified.file_name,
    classified.file_row
from {{ ref('int_usage_events_classified') }} as classified
where classified.disposition = 'valid'
    and classified.is_beyond_dedup_window
