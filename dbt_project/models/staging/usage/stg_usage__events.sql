-- One row per delivered event row. A file loaded twice (the same rows under a new load) counts
-- once: the natural key of a delivered row is its file and row number.
with raw_rows as (
    select * from {{ source('usage', 'usage_events') }}
),

renamed as (
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
        file_name,
        file_row,
        cast(delivered_on as date) as delivered_on,
        _dlt_load_id as load_id
    from raw_rows
),

deduplicated as (
    select
        *,
        row_number() over (partition by file_name, file_row order by load_id) as delivery_copy
    from renamed
)

select
    {{ dbt.concat(["file_name", "':'", dbt.safe_cast("file_row", api.Column.translate_type("string"))]) }}
        as event_row_key,
    event_id,
    customer_key,
    meter_id,
    quantity_text,
    quantity,
    amount_text,
    amount,
    event_timestamp_text,
    event_at,
    properties,
    usage_source,
    file_name,
    file_row,
    delivered_on,
    load_id
from deduplicated
where delivery_copy = 1
