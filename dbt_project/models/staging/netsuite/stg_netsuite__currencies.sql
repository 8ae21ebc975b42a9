with raw_rows as (
    select * from {{ source('netsuite', 'currency') }}
),

renamed as (
    select
        id as currency_id,
        symbol as currency_code,
        name as currency_name,
        cast(currencyprecision as integer) as minor_unit_digits,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as modified_at
    from raw_rows
),

-- The loader merges on the key already; staging still keeps only the newest version.
versioned as (
    select
        *,
        row_number() over (partition by currency_id order by modified_at desc) as version_rank
    from renamed
)

select
    currency_id,
    currency_code,
    currency_name,
    minor_unit_digits,
    modified_at
from versioned
where version_rank = 1
