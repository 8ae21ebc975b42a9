with raw_rows as (
    select * from {{ source('netsuite', 'account') }}
),

renamed as (
    select
        id as account_id,
        acctnumber as account_number,
        acctname as account_name,
        accttype as account_type,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as modified_at
    from raw_rows
),

-- The loader merges on the key already; staging still keeps only the newest version.
versioned as (
    select
        *,
        row_number() over (partition by account_id order by modified_at desc) as version_rank
    from renamed
)

select
    account_id,
    account_number,
    account_name,
    account_type,
    modified_at
from versioned
where version_rank = 1
