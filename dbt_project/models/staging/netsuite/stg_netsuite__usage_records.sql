with raw_rows as (
    select * from {{ source('netsuite', 'usage') }}
),

renamed as (
    select
        id as usage_record_id,
        externalid as usage_record_key,
        customer as customer_id,
        usagesubscription as subscription_id,
        usagesubscriptionline as subscription_line_id,
        cast(usagequantity as {{ decimal_type() }}) as usage_quantity,
        cast(usagedate as date) as usage_date,
        subscriptionplan as subscription_plan_id,
        memo,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as modified_at
    from raw_rows
),

-- The loader merges on the key already; staging still keeps only the newest version.
versioned as (
    select
        *,
        row_number() over (partition by usage_record_id order by modified_at desc) as version_rank
    from renamed
)

select
    usage_record_id,
    usage_record_key,
    customer_id,
    subscription_id,
    subscription_line_id,
    usage_quantity,
    usage_date,
    subscription_plan_id,
    memo,
    modified_at
from versioned
where version_rank = 1
