with raw_rows as (
    select * from {{ source('netsuite', 'customer') }}
),

renamed as (
    select
        id as customer_id,
        externalid as customer_key,
        entityid as entity_name,
        companyname as company_name,
        subsidiary as subsidiary_id,
        currency as currency_id,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as modified_at
    from raw_rows
),

-- The loader merges on the key already; staging still keeps only the newest version.
versioned as (
    select
        *,
        row_number() over (partition by customer_id order by modified_at desc) as version_rank
    from renamed
)

select
    customer_id,
    customer_key,
    entity_name,
    company_name,
    subsidiary_id,
    currency_id,
    modified_at
from versioned
where version_rank = 1
