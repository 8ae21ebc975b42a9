with raw_rows as (
    select * from {{ source('netsuite', 'currencyrate') }}
),

renamed as (
    select
        id as currency_rate_id,
        basecurrency as base_currency_id,
        transactioncurrency as transaction_currency_id,
        cast(exchangerate as {{ decimal_type(38, 12) }}) as exchange_rate,
        cast(effectivedate as date) as effective_date,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as modified_at
    from raw_rows
),

-- The loader merges on the key already; staging still keeps only the newest version.
versioned as (
    select
        *,
        row_number() over (partition by currency_rate_id order by modified_at desc) as version_rank
    from renamed
)

select
    currency_rate_id,
    base_currency_id,
    transaction_currency_id,
    exchange_rate,
    effective_date,
    modified_at
from versioned
where version_rank = 1
