-- A view: a filter of the classified rows, never a copy of the event history.
{{ config(materialized="view") }}

-- Valid usage events, deduplicated: the first occurrence of each event ID in load order (within
-- the dedup window, int_usage_events_classified).
select
    event_id,
    event_row_key,
    customer_key,
    meter_id,
    quantity,
    amount,
    event_at,
    properties,
    usage_source,
    file_name,
    file_row,
    delivered_on,
    load_id,
    is_late_arrival
from {{ ref('int_usage_events_classified') }}
where disposition = 'valid'
