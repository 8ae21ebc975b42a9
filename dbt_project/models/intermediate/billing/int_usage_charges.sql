-- Rated usage per usage line and billing segment, for the unit, graduated, volume and package
-- models (scenario-format.md, "Charge models" and "Amendments and proration").
--   billable quantity of a segment = its quantity minus its prorated included quantity, not
--   below 0. Segments fill the billing period one after the other: a segment's units sit at
--   positions (start_position, end_position] of the period's billable quantity, so tier
--   positions continue across an amendment while each segment is priced by its own terms.
--   A segment's charge is the rating of its end position minus the rating of its start
--   position (the first tier's flat fee, due even at zero, goes to the period's first
--   segment). volume: the tier is chosen by the whole period's billable quantity.
-- The percentage models price event by event; they are not rated here yet.
with usage as (
    select * from {{ ref('int_usage_by_segment') }}
),

versions as (
    select
        line_version_key,
        price_model,
        unit_price,
        included_quantity
    from {{ ref('int_contract_line_versions') }}
),

lines as (
    select
        contract_line_id,
        package_size,
        package_price,
        free_units
    from {{ ref('stg_salesforce__contract_lines') }}
),

contract_currencies as (
    select * from {{ ref('int_contract_currencies') }}
),

tiers as (
    select * from {{ ref('int_price_tiers') }}
),

allowanced as (
    select
        usage.*,
        versions.price_model,
        versions.unit_price,
        lines.package_size,
        lines.package_price,
        coalesce(lines.free_units, 0) as free_units,
        {{ prorate('coalesce(versions.included_quantity, 0)', 'usage.days_in_segment', 'usage.days_in_full_period', 9) }}
            as included_quantity
    from usage
    inner join versions
        on usage.line_version_key = versions.line_version_key
    inner join lines
        on usage.contract_line_id = lines.contract_line_id
    where versions.price_model in ('unit', 'graduated', 'volume', 'package')
),

billable as (
    select
        *,
        case when quantity > included_quantity then quantity - included_quantity else 0 end as billable_quantity
    from allowanced
),

positioned as (
    select
        *,
        coalesce(sum(billable_quantity) over (
            partition by contract_line_id, billing_period_key
            order by segment_number
            rows between unbounded preceding and 1 preceding
        ), 0) as start_position,
        sum(billable_quantity) over (partition by contract_line_id, billing_period_key) as period_billable_quantity
    from billable
),

positions as (
    select
        *,
        start_position + billable_quantity as end_position
    from positioned
),

graduated as (
    select
        positions.billing_segment_key,
        sum(
            case
                when coalesce(tiers.upper_bound, positions.end_position) > tiers.lower_bound
                    and least(positions.end_position, coalesce(tiers.upper_bound, positions.end_position))
                        > greatest(positions.start_position, tiers.lower_bound)
                    then (least(positions.end_position, coalesce(tiers.upper_bound, positions.end_position))
                        - greatest(positions.start_position, tiers.lower_bound)) * tiers.unit_price
                else 0
            end
            + case
                -- The tier's first unit falls in this segment, or (first tier) the period has none.
                when tiers.lower_bound >= positions.start_position and tiers.lower_bound < positions.end_position
                    then tiers.flat_fee
                when tiers.tier_number = 1 and positions.period_billable_quantity = 0 and positions.segment_number = 1
                    then tiers.flat_fee
                else 0
            end
        ) as raw_amount
    from positions
    inner join tiers
        on positions.line_version_key = tiers.line_version_key
    where positions.price_model = 'graduated'
    group by positions.billing_segment_key
),

volume as (
    select
        positions.billing_segment_key,
        positions.billable_quantity * tiers.unit_price
        + case
            when positions.start_position = 0 and positions.end_position > 0 then tiers.flat_fee
            when positions.period_billable_quantity = 0 and positions.segment_number = 1 then tiers.flat_fee
            else 0
        end as raw_amount
    from positions
    inner join tiers
        on positions.line_version_key = tiers.line_version_key
        and (
            (positions.period_billable_quantity > tiers.lower_bound
                and (tiers.upper_bound is null or positions.period_billable_quantity <= tiers.upper_bound))
            or (positions.period_billable_quantity = 0 and tiers.tier_number = 1)
        )
    where positions.price_model = 'volume'
),

rated as (
    select
        positions.*,
        case positions.price_model
            when 'unit' then positions.billable_quantity * positions.unit_price
            when 'package' then (
                {{ ceil_ratio('case when positions.end_position > positions.free_units then positions.end_position - positions.free_units else 0 end', 'positions.package_size') }}
                - {{ ceil_ratio('case when positions.start_position > positions.free_units then positions.start_position - positions.free_units else 0 end', 'positions.package_size') }}
            ) * positions.package_price
            when 'graduated' then graduated.raw_amount
            when 'volume' then volume.raw_amount
        end as raw_amount
    from positions
    left join graduated
        on positions.billing_segment_key = graduated.billing_segment_key
    left join volume
        on positions.billing_segment_key = volume.billing_segment_key
)

select
    rated.billing_segment_key as charge_key,
    rated.billing_period_key,
    rated.contract_line_id,
    rated.line_key,
    rated.contract_id,
    rated.meter_id,
    rated.period_number,
    rated.segment_number,
    rated.segment_start,
    rated.segment_end,
    rated.price_model,
    rated.quantity,
    rated.included_quantity,
    rated.billable_quantity,
    rated.start_position,
    rated.end_position,
    {{ round_money('rated.raw_amount', 'contract_currencies.minor_units') }} as amount,
    contract_currencies.currency_code,
    rated.line_version_key as pricing_version
from rated
inner join contract_currencies
    on rated.contract_id = contract_currencies.contract_id
