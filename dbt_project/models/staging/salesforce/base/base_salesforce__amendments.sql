-- Every amendment's newest version, as Salesforce holds it. stg_salesforce__amendments keeps the
-- ones the warehouse can apply; the others are quarantined with their reason
-- (stg_salesforce__quarantined_contract_terms).
with raw_rows as (
    select * from {{ source('salesforce', 'amendment_c') }}
),

renamed as (
    select
        id as amendment_id,
        amendment_key__c as amendment_key,
        contract__c as contract_id,
        contract_line__c as contract_line_id,
        type__c as amendment_type,
        cast(effective_date__c as date) as effective_date,
        status__c as amendment_status,
        cancel__c as is_cancellation,
        cast(new_amount__c as {{ decimal_type() }}) as new_amount,
        cast(new_included_quantity__c as {{ decimal_type() }}) as new_included_quantity,
        cast(new_unit_price__c as {{ decimal_type() }}) as new_unit_price,
        new_price_model__c as new_price_model,
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
            partition by amendment_id
            order by modified_at desc, load_id desc
        ) as version_rank
    from renamed
)

select
    amendment_id,
    amendment_key,
    contract_id,
    contract_line_id,
    amendment_type,
    effective_date,
    amendment_status,
    is_cancellation,
    new_amount,
    new_included_quantity,
    new_unit_price,
    new_price_model,
    is_deleted,
    modified_at
from versioned
where version_rank = 1
