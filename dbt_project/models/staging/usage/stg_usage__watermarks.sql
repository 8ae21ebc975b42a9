with raw_rows as (
    select * from {{ source('usage', 'usage_watermarks') }}
),

renamed as (
    select
        source as usage_source,
        {{ utc_timestamp_from_text('complete_through') }} as complete_through,
        file_name
    from raw_rows
)

select * from renamed
