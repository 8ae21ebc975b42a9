with raw_rows as (
    select * from {{ source('salesforce', 'price_tier_c') }}
),

renamed as (
    select
        id as price_tier_id,
        contract_line__c as contract_line_id,
        amendment__c as amendment_id,
        cast(tier_number__c as {{ dbt.type_int() }}) as tier_number,
        cast(up_to__c as {{ decimal_type() }}) as up_to,
        cast(unit_price__c as {{ decimal_type() }}) as unit_price,
        cast(flat_fee__c as {{ decimal_type() }}) as flat_fee,
        cast(rate__c as {{ decimal_type() }}) as rate_percent,
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
            partition by price_tier_id
            order by modified_at desc, load_id desc
        ) as version_rank
    from renamed
)

select
    price_tier_id,
    contract_line_id,
    amendment_id,
    tier_number,
    up_to,
    unit_price,
    flat_fee,
    rate_percent,
    is_deleted,
    modified_at
from versioned
where version_rank = 1
