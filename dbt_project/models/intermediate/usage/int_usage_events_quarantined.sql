-- A view: a filter of the classified rows, never a copy of the event history.
{{ config(materialized="view") }}

-- Every rejected usage event row, with its reason code and the file it came from, the values
-- kept exactly as delivered so the sender can be told what to fix.
select
    event_row_key,
    quarantine_reason,
    quarantine_detail,
    event_id,
    customer_key,
    meter_id,
    quantity_text,
    amount_text,
    event_timestamp_text,
    properties,
    usage_source,
    file_name,
    file_version,
    file_row,
    delivered_on,
    load_id
from {{ ref('int_usage_events_classified') }}
where disposition = 'quarantined'
