with raw_rows as (
    select * from {{ source('netsuite', 'item') }}
),

renamed as (
    select
        id as item_id,
        externalid as item_key,
        itemid as item_name,
        displayname as display_name,
        itemtype as item_type,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as modified_at
    from raw_rows
),

-- The loader merges on the key already; staging still keeps only the newest version.
versioned as (
    select
        *,
        row_number() over (partition by item_id order by modified_at desc) as version_rank
    from renamed
)

select
    item_id,
    item_key,
    item_name,
    display_name,
    item_type,
    modified_at
from versioned
where version_rank = 1
