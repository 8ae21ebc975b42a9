-- Valid usage events, deduplicated: one row per event ID, the first occurrence in load order.
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
from {{ ref('stg_usage__delivered_events') }}
where disposition = 'valid'
