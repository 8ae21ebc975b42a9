with raw_rows as (
    select * from {{ source('salesforce', 'contract') }}
),

renamed as (
    select
        id as contract_id,
        contract_key__c as contract_key,
        account_id,
        status as contract_status,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        currency_iso_code as currency_code,
        billing_frequency__c as billing_frequency,
        billing_anchor__c as billing_anchor,
        net_suite_subscription_id__c as netsuite_subscription_id,
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
            partition by contract_id
            order by modified_at desc, load_id desc
        ) as version_rank
    from renamed
)

select
    contract_id,
    contract_key,
    account_id,
    contract_status,
    start_date,
    end_date,
    currency_code,
    billing_frequency,
    billing_anchor,
    netsuite_subscription_id,
    is_deleted,
    modified_at
from versioned
where version_rank = 1
