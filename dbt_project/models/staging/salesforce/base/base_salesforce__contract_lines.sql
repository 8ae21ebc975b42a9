-- Every contract line's newest version, as Salesforce holds it. stg_salesforce__contract_lines
-- keeps the ones the warehouse can bill; the others are quarantined with their reason
-- (stg_salesforce__quarantined_contract_terms).
with raw_rows as (
    select * from {{ source('salesforce', 'contract_line_c') }}
),

renamed as (
    select
        id as contract_line_id,
        line_key__c as line_key,
        contract__c as contract_id,
        kind__c as line_kind,
        product__c as product_code,
        meter__c as meter_id,
        cast(amount__c as {{ decimal_type() }}) as amount,
        timing__c as fee_timing,
        revenue_rule__c as revenue_rule,
        price_model__c as price_model,
        cast(unit_price__c as {{ decimal_type() }}) as unit_price,
        cast(package_size__c as {{ decimal_type() }}) as package_size,
        cast(package_price__c as {{ decimal_type() }}) as package_price,
        cast(free_units__c as {{ decimal_type() }}) as free_units,
        cast(rate__c as {{ decimal_type() }}) as rate_percent,
        cast(fixed_fee__c as {{ decimal_type() }}) as fixed_fee,
        cast(free_events__c as {{ decimal_type() }}) as free_events,
        cast(free_amount__c as {{ decimal_type() }}) as free_amount,
        cast(min_per_event__c as {{ decimal_type() }}) as min_per_event,
        cast(max_per_event__c as {{ decimal_type() }}) as max_per_event,
        cast(included_quantity__c as {{ decimal_type() }}) as included_quantity,
        applies_to__c as applies_to,
        cast(purchase_date__c as date) as purchase_date,
        cast(expiry_date__c as date) as expiry_date,
        breakage__c as breakage_method,
        cast(expected_breakage_rate__c as {{ decimal_type() }}) as expected_breakage_rate,
        cast(charge_date__c as date) as charge_date,
        net_suite_subscription_line_id__c as netsuite_subscription_line_id,
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
            partition by contract_line_id
            order by modified_at desc, load_id desc
        ) as version_rank
    from renamed
)

select
    contract_line_id,
    line_key,
    contract_id,
    line_kind,
    product_code,
    meter_id,
    amount,
    fee_timing,
    revenue_rule,
    price_model,
    unit_price,
    package_size,
    package_price,
    free_units,
    rate_percent,
    fixed_fee,
    free_events,
    free_amount,
    min_per_event,
    max_per_event,
    included_quantity,
    applies_to,
    purchase_date,
    expiry_date,
    breakage_method,
    expected_breakage_rate,
    charge_date,
    netsuite_subscription_line_id,
    is_deleted,
    modified_at
from versioned
where version_rank = 1
