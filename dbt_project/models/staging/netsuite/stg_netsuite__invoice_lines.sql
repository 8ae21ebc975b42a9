with raw_rows as (
    select * from {{ source('netsuite', 'invoiceline') }}
),

renamed as (
    select
        {{ dbt.concat(["transaction", "'-'", "id"]) }} as invoice_line_id,
        transaction as invoice_id,
        cast(id as integer) as line_number,
        cast(linesequencenumber as integer) as line_sequence_number,
        item as item_id,
        subscriptionline as subscription_line_id,
        usage as usage_record_ids,
        cast(quantity as {{ decimal_type() }}) as quantity,
        cast(rate as {{ decimal_type() }}) as rate,
        cast(netamount as {{ decimal_type() }}) as amount,
        entity as customer_id,
        subsidiary as subsidiary_id,
        memo as description,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as modified_at
    from raw_rows
),

-- Lines carry their invoice's last-modified time. The loader replaces an invoice's lines when
-- the invoice changes; staging still keeps one row per line, and only lines of the invoice's
-- newest version (a line left from an older version is no longer on the invoice).
versioned as (
    select
        *,
        row_number() over (partition by invoice_id, line_number order by modified_at desc) as version_rank,
        max(modified_at) over (partition by invoice_id) as invoice_modified_at
    from renamed
)

select
    invoice_line_id,
    invoice_id,
    line_number,
    line_sequence_number,
    item_id,
    subscription_line_id,
    usage_record_ids,
    quantity,
    rate,
    amount,
    customer_id,
    subsidiary_id,
    description,
    modified_at
from versioned
where version_rank = 1
    and modified_at = invoice_modified_at
