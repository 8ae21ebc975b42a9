with raw_rows as (
    select * from {{ source('netsuite', 'pricetiers') }}
),

renamed as (
    select
        {{ dbt.concat(["priceplan", "'-'", "linenumber"]) }} as price_plan_tier_id,
        priceplan as price_plan_id,
        cast(linenumber as integer) as tier_number,
        cast(fromval as {{ decimal_type() }}) as from_quantity,
        cast(toval as {{ decimal_type() }}) as to_quantity,
        cast(price as {{ decimal_type() }}) as unit_price,
        cast(flatfee as {{ decimal_type() }}) as flat_fee,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as modified_at
    from raw_rows
),

-- Tiers carry their price plan's last-modified time. The loader replaces a plan's tiers when
-- the plan changes; staging still keeps one row per tier, and only tiers of the plan's newest
-- version (a tier left from an older version is no longer on the plan).
versioned as (
    select
        *,
        row_number() over (partition by price_plan_id, tier_number order by modified_at desc) as version_rank,
        max(modified_at) over (partition by price_plan_id) as plan_modified_at
    from renamed
)

select
    price_plan_tier_id,
    price_plan_id,
    tier_number,
    from_quantity,
    to_quantity,
    unit_price,
    flat_fee,
    modified_at
from versioned
where version_rank = 1
    and modified_at = plan_modified_at
