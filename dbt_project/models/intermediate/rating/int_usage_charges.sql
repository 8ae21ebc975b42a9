-- Rated usage per usage line and billing segment, for the unit, graduated, volume and package
-- models (scenario-format.md, "Charge models" and "Amendments and proration").
--   billable quantity of a segment = its quantity minus its prorated included quantity, not
--   below 0. Segments fill the billing period one after the other: a segment's units sit at
--   positions (start_position, end_position] of the period's billable quantity, so tier
--   positions continue across an amendment while each segment is priced by its own terms.
--   A segment's charge is the rating of its end position minus the rating of its start
--   position, in its own table; a tier's flat fee once per period, in the first segment that
--   reaches the tier (the first tier's fee, due even at zero, goes to the period's first
--   segment then). volume: the tier is chosen by the whole period's billable quantity, in
--   each segment's own table; its flat fee once, in the period's first segment with billable
--   units (the first segment when there are none).
--   graduated_percentage is graduated on the aggregated amount, each tier's price being its
--   rate / 100. percentage prices event by event (int_percentage_event_charges); a segment's
--   charge is the sum of its events' charges.
-- One row per segment and delivery cohort (int_usage_by_segment): cohort 0 is the period's
-- first rating, a later cohort the re-rating with that cohort's late events added; and the
-- consumption cuts revenue recognition rates (consumed_through not null: the usage up to a
-- month end inside the period). Billing reads the rows where consumed_through is null.
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
        -- Percentage prices its events' amounts with its own free allowances, never an included quantity.
        case
            when versions.price_model = 'percentage' then cast(0 as {{ decimal_type() }})
            else {{ prorate('coalesce(versions.included_quantity, 0)', 'usage.days_in_segment', 'usage.days_in_full_period', 9) }}
        end as included_quantity
    from usage
    inner join versions
        on usage.line_version_key = versions.line_version_key
    inner join lines
        on usage.contract_line_id = lines.contract_line_id
    where versions.price_model in ('unit', 'graduated', 'volume', 'package', 'percentage', 'graduated_percentage')
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
            partition by contract_line_id, billing_period_key, delivery_cohort, consumed_through
            order by segment_number
            rows between unbounded preceding and 1 preceding
        ), 0) as start_position,
        sum(billable_quantity) over (partition by contract_line_id, billing_period_key, delivery_cohort, consumed_through)
            as period_billable_quantity
    from billable
),

positions as (
    select
        *,
        start_position + billable_quantity as end_position
    from positioned
),

-- Each segment against each tier of its own table: the units it holds in the tier, and whether
-- any of its positions fall in the tier. A tier's flat fee is due once per billing period (per
-- rating), not prorated: in the first segment that reaches the tier (by tier number) in its own
-- table, at that table's fee. An amendment that moves the bounds neither charges a tier's fee
-- twice nor skips a tier the later segment's units fall in.
tier_ranges as (
    select
        positions.segment_rating_key,
        positions.contract_line_id,
        positions.billing_period_key,
        positions.delivery_cohort,
        positions.consumed_through,
        positions.segment_number,
        positions.period_billable_quantity,
        tiers.tier_number,
        tiers.flat_fee,
        {{ tier_range_units_charge('positions.start_position', 'positions.end_position', 'tiers') }} as units_charge,
        case when {{ tier_range_touches('positions.start_position', 'positions.end_position', 'tiers') }}
            then positions.segment_number end as touching_segment
    from positions
    inner join tiers
        on positions.line_version_key = tiers.line_version_key
    where positions.price_model in ('graduated', 'graduated_percentage')
),

graduated as (
    select
        segment_rating_key,
        sum(
            units_charge
            + case
                when segment_number = first_touching_segment then flat_fee
                -- The first tier's fee is due at zero: the period's first segment carries it then.
                when tier_number = 1 and period_billable_quantity = 0 and segment_number = 1 then flat_fee
                else 0
            end
        ) as raw_amount
    from (
        select
            *,
            min(touching_segment) over (
                partition by contract_line_id, billing_period_key, delivery_cohort, consumed_through, tier_number
            ) as first_touching_segment
        from tier_ranges
    ) as first_touches
    group by segment_rating_key
),

volume as (
    select
        positions.segment_rating_key,
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

percentage as (
    select
        positions.segment_rating_key,
        sum(event_charges.charge) as raw_amount
    from positions
    inner join {{ ref('int_percentage_event_charges') }} as event_charges
        on positions.billing_segment_key = event_charges.billing_segment_key
        and positions.delivery_cohort = event_charges.rated_cohort
        and (positions.consumed_through is null or event_charges.event_date <= positions.consumed_through)
    where positions.price_model = 'percentage'
    group by positions.segment_rating_key
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
            when 'graduated_percentage' then graduated.raw_amount
            when 'volume' then volume.raw_amount
            when 'percentage' then coalesce(percentage.raw_amount, 0)
        end as raw_amount
    from positions
    left join graduated
        on positions.segment_rating_key = graduated.segment_rating_key
    left join volume
        on positions.segment_rating_key = volume.segment_rating_key
    left join percentage
        on positions.segment_rating_key = percentage.segment_rating_key
)

select
    rated.segment_rating_key as charge_key,
    rated.billing_segment_key,
    rated.delivery_cohort,
    rated.consumed_through,
    rated.billing_period_key,
    rated.contract_line_id,
    rated.line_key,
    rated.contract_id,
    rated.meter_id,
    rated.period_number,
    rated.segment_number,
    rated.period_start,
    rated.period_end,
    rated.segment_start,
    rated.segment_end,
    rated.price_model,
    rated.event_count,
    rated.quantity,
    rated.included_quantity,
    rated.billable_quantity,
    rated.start_position,
    rated.end_position,
    rated.unit_price,
    rated.package_size,
    rated.package_price,
    rated.free_units,
    {{ round_money('rated.raw_amount', 'contract_currencies.minor_units') }} as amount,
    contract_currencies.currency_code,
    rated.line_version_key as pricing_version,
    -- Terms the model needs but the line lacks leave the amount null, named here.
    case
        when rated.raw_amount is not null then null
        when rated.price_model = 'unit' then 'unit: no unit price'
        when rated.price_model = 'package' then 'package: no package size or price'
        else {{ dbt.concat(["rated.price_model", "': no price tier holds the quantity'"]) }}
    end as rating_error
from rated
inner join contract_currencies
    on rated.contract_id = contract_currencies.contract_id
