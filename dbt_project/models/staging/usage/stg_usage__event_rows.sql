-- Every event row as loaded, renamed and cast: the text as delivered beside its parsed value
-- (null when it does not parse), so the classification can tell a missing value from a bad one.
-- Rows of every file version and load: which of them count is decided in intermediate/usage.
with raw_rows as (
    select * from {{ source('usage', 'usage_events') }}
)

select
    nullif(trim(event_id), '') as event_id,
    customer_id as customer_key,
    meter as meter_id,
    quantity as quantity_text,
    {{ decimal_from_text('quantity') }} as quantity,
    amount as amount_text,
    {{ decimal_from_text('amount') }} as amount,
    {{ adapter.quote('timestamp') }} as event_timestamp_text,
    {{ utc_timestamp_from_text(adapter.quote('timestamp')) }} as event_at,
    properties,
    source as usage_source,
    parse_error,
    file_name,
    file_version,
    file_row,
    _dlt_load_id as load_id
from raw_rows
