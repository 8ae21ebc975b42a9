with raw_rows as (
    select * from {{ source('netsuite', 'journalentryline') }}
),

renamed as (
    select
        {{ dbt.concat(["transaction", "'-'", "id"]) }} as journal_entry_line_id,
        transaction as journal_entry_id,
        cast(id as integer) as line_number,
        cast(linesequencenumber as integer) as line_sequence_number,
        account as account_id,
        cast(debitforeignamount as {{ decimal_type() }}) as debit_amount,
        cast(creditforeignamount as {{ decimal_type() }}) as credit_amount,
        cast(netamount as {{ decimal_type() }}) as net_amount,
        entity as customer_id,
        subsidiary as subsidiary_id,
        memo,
        department as department_id,
        class as class_id,
        location as location_id,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as modified_at
    from raw_rows
),

-- Lines carry their journal entry's last-modified time. The loader replaces an entry's lines
-- when the entry changes; staging still keeps one row per line, and only lines of the entry's
-- newest version (a line left from an older version is no longer on the entry).
versioned as (
    select
        *,
        row_number() over (partition by journal_entry_id, line_number order by modified_at desc) as version_rank,
        max(modified_at) over (partition by journal_entry_id) as entry_modified_at
    from renamed
)

select
    journal_entry_line_id,
    journal_entry_id,
    line_number,
    line_sequence_number,
    account_id,
    debit_amount,
    credit_amount,
    net_amount,
    customer_id,
    subsidiary_id,
    memo,
    department_id,
    class_id,
    location_id,
    modified_at
from versioned
where version_rank = 1
    and modified_at = entry_modified_at
