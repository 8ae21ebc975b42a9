with raw_rows as (
    select * from {{ source('netsuite', 'invoice') }}
),

renamed as (
    select
        id as invoice_id,
        externalid as invoice_key,
        tranid as invoice_number,
        entity as customer_id,
        subscription as subscription_id,
        subsidiary as subsidiary_id,
        currency as currency_id,
        postingperiod as accounting_period_id,
        cast(trandate as date) as invoice_date,
        memo,
        cast(foreigntotal as {{ decimal_type() }}) as total_amount,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as modified_at
    from raw_rows
),

-- The loader merges on the key already; staging still keeps only the newest version.
versioned as (
    select
        *,
        row_number() over (partition by invoice_id order by modified_at desc) as version_rank
    from renamed
)

select
    invoice_id,
    invoice_key,
    invoice_number,
    customer_id,
    subscription_id,
    subsidiary_id,
    currency_id,
    accounting_period_id,
    invoice_date,
    memo,
    total_amount,
    modified_at
from versioned
where version_rank = 1
