with raw_rows as (
    select * from {{ source('netsuite', 'subsidiary') }}
),

renamed as (
    select
        id as subsidiary_id,
        name as subsidiary_name,
        currency as currency_id,
        country as country_code,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as modified_at
    from raw_rows
),

-- The loader merges on the key already; staging still keeps only the newest version.
versioned as (
    select
        *,
        row_number() over (partition by subsidiary_id order by modified_at desc) as version_rank
    from renamed
)

select
    subsidiary_id,
    subsidiary_name,
    currency_id,
    country_code,
    modified_at
from versioned
where version_rank = 1
