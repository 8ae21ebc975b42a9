with raw_rows as (
    select * from {{ source('netsuite', 'subscriptionline') }}
),

renamed as (
    select
        id as subscription_line_id,
        externalid as line_key,
        subscription as subscription_id,
        item as item_id,
        cast(linenumber as integer) as line_number,
        subscriptionlinetype as line_type,
        cast(startdate as date) as start_date,
        cast(enddate as date) as end_date,
        status as line_status,
        priceplan as price_plan_id,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as modified_at
    from raw_rows
),

-- The loader merges on the key already; staging still keeps only the newest version.
versioned as (
    select
        *,
        row_number() over (partition by subscription_line_id order by modified_at desc) as version_rank
    from renamed
)

select
    subscription_line_id,
    line_key,
    subscription_id,
    item_id,
    line_number,
    line_type,
    start_date,
    end_date,
    line_status,
    price_plan_id,
    modified_at
from versioned
where version_rank = 1
