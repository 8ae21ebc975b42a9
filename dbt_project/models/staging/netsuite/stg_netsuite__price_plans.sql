with raw_rows as (
    select * from {{ source('netsuite', 'priceplan') }}
),

renamed as (
    select
        id as price_plan_id,
        externalid as price_plan_key,
        currency as currency_id,
        pricemodeltype as price_model_type,
        cast(packagesize as {{ decimal_type() }}) as package_size,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as modified_at
    from raw_rows
),

-- The loader merges on the key already; staging still keeps only the newest version.
versioned as (
    select
        *,
        row_number() over (partition by price_plan_id order by modified_at desc) as version_rank
    from renamed
)

select
    price_plan_id,
    price_plan_key,
    currency_id,
    price_model_type,
    package_size,
    modified_at
from versioned
where version_rank = 1
