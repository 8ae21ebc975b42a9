with raw_rows as (
    select * from {{ source('netsuite', 'subscription') }}
),

renamed as (
    select
        id as subscription_id,
        externalid as contract_key,
        customer as customer_id,
        subsidiary as subsidiary_id,
        currency as currency_id,
        cast(startdate as date) as start_date,
        cast(enddate as date) as end_date,
        billingfrequency as billing_frequency,
        status as subscription_status,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as modified_at
    from raw_rows
),

-- The loader merges on the key already; staging still keeps only the newest version.
versioned as (
    select
        *,
        row_number() over (partition by subscription_id order by modified_at desc) as version_rank
    from renamed
)

select
    subscription_id,
    contract_key,
    customer_id,
    subsidiary_id,
    currency_id,
    start_date,
    end_date,
    billing_frequency,
    subscription_status,
    modified_at
from versioned
where version_rank = 1
