with raw_rows as (
    select * from {{ source('netsuite', 'journalentry') }}
),

renamed as (
    select
        id as journal_entry_id,
        externalid as journal_entry_key,
        tranid as journal_entry_number,
        subsidiary as subsidiary_id,
        currency as currency_id,
        postingperiod as accounting_period_id,
        cast(trandate as date) as entry_date,
        memo,
        cast(foreigntotal as {{ decimal_type() }}) as total_debit_amount,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as modified_at
    from raw_rows
),

-- The loader merges on the key already; staging still keeps only the newest version.
versioned as (
    select
        *,
        row_number() over (partition by journal_entry_id order by modified_at desc) as version_rank
    from renamed
)

select
    journal_entry_id,
    journal_entry_key,
    journal_entry_number,
    subsidiary_id,
    currency_id,
    accounting_period_id,
    entry_date,
    memo,
    total_debit_amount,
    modified_at
from versioned
where version_rank = 1
