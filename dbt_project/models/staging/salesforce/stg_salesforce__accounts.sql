with raw_rows as (
    select * from {{ source('salesforce', 'account') }}
),

renamed as (
    select
        id as account_id,
        customer_key__c as customer_key,
        name as account_name,
        currency_iso_code as currency_code,
        subsidiary__c as subsidiary_code,
        net_suite_customer_id__c as netsuite_customer_id,
        is_deleted,
        system_modstamp as modified_at,
        _dlt_load_id as load_id
    from raw_rows
),

-- The loader merges on the key already; staging still keeps only the newest version (of two
-- with the same stamp, the later load's).
versioned as (
    select
        *,
        row_number() over (
            partition by account_id
            order by modified_at desc, load_id desc
        ) as version_rank
    from renamed
)

select
    account_id,
    customer_key,
    account_name,
    currency_code,
    subsidiary_code,
    netsuite_customer_id,
    is_deleted,
    modified_at
from versioned
where version_rank = 1
