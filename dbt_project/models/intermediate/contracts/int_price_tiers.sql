-- The tier table of each tiered usage line version: the line's own tiers, or those of the
-- amendment that replaced them. A tier holds the units in (lower_bound, upper_bound]; a null
-- upper bound has no limit.
with versions as (
    select
        line_version_key,
        contract_line_id,
        price_model,
        tiers_amendment_id
    from {{ ref('int_contract_line_versions') }}
    where line_kind = 'usage'
),

tiers as (
    select *
    from {{ ref('stg_salesforce__price_tiers') }}
    where not is_deleted
),

versioned as (
    select
        versions.line_version_key,
        versions.price_model,
        tiers.tier_number,
        tiers.up_to,
        tiers.unit_price,
        tiers.flat_fee,
        tiers.rate_percent
    from versions
    inner join tiers
        on (versions.tiers_amendment_id is null
            and tiers.amendment_id is null
            and tiers.contract_line_id = versions.contract_line_id)
        or tiers.amendment_id = versions.tiers_amendment_id
)

select
    {{ dbt.concat(["line_version_key", "':t'", "cast(tier_number as " ~ dbt.type_string() ~ ")"]) }} as price_tier_key,
    line_version_key,
    tier_number,
    cast(coalesce(
        lag(up_to) over (partition by line_version_key order by tier_number), 0
    ) as {{ decimal_type() }}) as lower_bound,
    up_to as upper_bound,
    -- The price of a unit in the tier: for graduated_percentage a unit is one of money, priced
    -- at rate / 100 (a product: DuckDB would divide into a DOUBLE).
    case
        when price_model = 'graduated_percentage' then coalesce(rate_percent, 0) * 0.01
        else coalesce(unit_price, 0)
    end as unit_price,
    coalesce(flat_fee, 0) as flat_fee,
    rate_percent
from versioned
