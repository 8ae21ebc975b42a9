-- The current version of each usage file: a rewritten file supersedes the version before it.
with raw_files as (
    select * from {{ source('usage', 'usage_files') }}
),

renamed as (
    select
        file_name,
        file_version,
        file_format,
        size_bytes,
        sha256 as content_sha256,
        cast(delivered_on as date) as delivered_on,
        _dlt_load_id as load_id
    from raw_files
),

-- Merge on file_name already keeps one row per file; never trust the loader alone.
newest_first as (
    select
        *,
        row_number() over (partition by file_name order by file_version desc, load_id desc) as recency
    from renamed
)

select
    file_name,
    file_version,
    file_format,
    size_bytes,
    content_sha256,
    delivered_on,
    load_id
from newest_first
where recency = 1
