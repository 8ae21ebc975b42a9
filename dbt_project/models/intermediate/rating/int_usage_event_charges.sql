-- The charge of each usage event of a line a prepaid credit pays for (scenario-format.md,
-- "Timing", prepaid credits): the amount the event adds to its billing period's rated amount,
-- the rating of the cumulative quantity after it minus the rating before it, at the segment's
-- price and at full precision. Rated as the period was first rated (delivery cohort 0).
--   unit, package, graduated, graduated_percentage: within its segment the event moves the
--   period's billable position from the previous event's to its own; the charge is the rating
--   of that interval (a tier's flat fee with the first unit the period puts in the tier, in
--   the first segment that reaches it in its own table: int_usage_charges; the first tier's
--   too).
--   volume: the rating of the whole period so far at the tier of its billable quantity so far
--   (every segment's units at that tier of its own table, plus the flat fee of that tier in
--   the table of the first segment with units), minus the same before the event; nothing is
--   rated before the period's first billable unit.
--   percentage: the event's own charge.
-- So a period's charges add up to its rated amount. A period with no billable unit still owes
-- the first tier's flat fee (graduated, volume, graduated_percentage): no event carries it, so
-- it is a charge of its own, dated the period's first day (event_row_key 'flat_fee:<segment>',
-- period_event_order 0), which credits pay like an event's (issue 22, docs/scenarios.md).
with credited_lines as (
    select distinct usage_line_id as contract_line_id
    from {{ ref('int_prepaid_credit_blocks') }}
),

charges as (
    select * from {{ ref('int_usage_charges') }}
    where contract_line_id in (select contract_line_id from credited_lines)
),

-- The period's first rating: credits pay for usage as it was first invoiced. Usage delivered
-- after its period was final is billed by its adjustment, in full.
first_ratings as (
    select *
    from charges
    where delivery_cohort = 0
        and consumed_through is null
),

meters as (
    select * from {{ ref('meters') }}
),

events as (
    select
        events.*,
        -- First time this property value is seen in the segment: unique_count so far.
        case
            when row_number() over (
                partition by events.billing_segment_key, events.property_text
                order by events.period_event_order
            ) = 1 and events.property_text is not null then 1
            else 0
        end as is_new_value
    from {{ ref('int_usage_events_segmented') }} as events
    where events.contract_line_id in (select contract_line_id from credited_lines)
        and events.delivery_cohort = 0
),

aggregated_so_far as (
    select
        events.event_row_key,
        events.event_at,
        events.event_date,
        events.period_event_order,
        events.load_id,
        events.file_name,
        events.file_row,
        events.billing_segment_key,
        events.billing_period_key,
        events.contract_line_id,
        events.line_key,
        events.contract_id,
        first_ratings.segment_number,
        first_ratings.pricing_version as line_version_key,
        first_ratings.price_model,
        first_ratings.unit_price,
        first_ratings.package_size,
        first_ratings.package_price,
        first_ratings.free_units,
        first_ratings.included_quantity,
        first_ratings.start_position,
        first_ratings.delivery_cohort,
        case meters.aggregation
            when 'sum' then sum(events.measured_value) over segment_so_far
            when 'max' then max(events.measured_value) over segment_so_far
            when 'count' then count(*) over segment_so_far
            when 'unique_count' then sum(events.is_new_value) over segment_so_far
            when 'latest' then events.measured_value
        end as quantity_so_far
    from events
    inner join first_ratings
        on events.billing_segment_key = first_ratings.billing_segment_key
    inner join meters
        on events.meter_id = meters.meter_id
    window segment_so_far as (
        partition by events.billing_segment_key
        order by events.period_event_order
        rows between unbounded preceding and current row
    )
),

positioned as (
    select
        *,
        start_position
        + case when quantity_so_far > included_quantity then quantity_so_far - included_quantity else 0 end
            as position_after,
        coalesce(lag(
            start_position
            + case when quantity_so_far > included_quantity then quantity_so_far - included_quantity else 0 end
        ) over (partition by billing_segment_key order by period_event_order), start_position) as position_before
    from aggregated_so_far
),

-- The segment of the period that first reaches each tier of its own table (int_usage_charges):
-- the tier's flat fee goes with the event of that segment whose units first fall in the tier.
tier_first_segments as (
    select
        first_ratings.contract_line_id,
        first_ratings.billing_period_key,
        tiers.tier_number,
        min(first_ratings.segment_number) as first_touching_segment
    from first_ratings
    inner join {{ ref('int_price_tiers') }} as tiers
        on first_ratings.pricing_version = tiers.line_version_key
    where first_ratings.price_model in ('graduated', 'graduated_percentage')
        and {{ tier_range_touches('first_ratings.start_position', 'first_ratings.end_position', 'tiers') }}
    group by first_ratings.contract_line_id, first_ratings.billing_period_key, tiers.tier_number
),

graduated as (
    select
        positioned.event_row_key,
        sum(
            {{ tier_range_units_charge('positioned.position_before', 'positioned.position_after', 'tiers') }}
            -- The first position of the segment in the tier falls in this event's range.
            + case
                when tier_first_segments.first_touching_segment = positioned.segment_number
                    and greatest(positioned.start_position, tiers.lower_bound) >= positioned.position_before
                    and greatest(positioned.start_position, tiers.lower_bound) < positioned.position_after
                    then tiers.flat_fee
                else 0
            end
        ) as charge
    from positioned
    inner join {{ ref('int_price_tiers') }} as tiers
        on positioned.line_version_key = tiers.line_version_key
    left join tier_first_segments
        on positioned.contract_line_id = tier_first_segments.contract_line_id
        and positioned.billing_period_key = tier_first_segments.billing_period_key
        and tiers.tier_number = tier_first_segments.tier_number
    where positioned.price_model in ('graduated', 'graduated_percentage')
    group by positioned.event_row_key
),

-- volume: the period's rating with the billable quantity so far, after and before the event.
volume_positions as (
    select
        event_row_key,
        contract_line_id,
        billing_period_key,
        segment_number,
        position_after as period_position,
        'after' as side
    from positioned
    where price_model = 'volume'
    union all
    select
        event_row_key,
        contract_line_id,
        billing_period_key,
        segment_number,
        position_before as period_position,
        'before' as side
    from positioned
    where price_model = 'volume'
),

volume_segment_ratings as (
    select
        volume_positions.event_row_key,
        volume_positions.side,
        segments.segment_number,
        -- Segments before the event's hold their whole billable quantity; its own, the rest.
        case
            when segments.segment_number < volume_positions.segment_number
                then segments.end_position - segments.start_position
            else volume_positions.period_position - segments.start_position
        end as units_so_far,
        segment_tiers.unit_price,
        segment_tiers.flat_fee
    from volume_positions
    inner join first_ratings as segments
        on volume_positions.contract_line_id = segments.contract_line_id
        and volume_positions.billing_period_key = segments.billing_period_key
        and segments.segment_number <= volume_positions.segment_number
    inner join {{ ref('int_price_tiers') }} as segment_tiers
        on segments.pricing_version = segment_tiers.line_version_key
        and (
            (volume_positions.period_position > segment_tiers.lower_bound
                and (segment_tiers.upper_bound is null or volume_positions.period_position <= segment_tiers.upper_bound))
            or (volume_positions.period_position = 0 and segment_tiers.tier_number = 1)
        )
),

-- The flat fee once, as int_usage_charges charges it: in the first segment with billable
-- units so far, at its table's tier; with none yet, the first segment's first tier.
volume_ratings as (
    select
        event_row_key,
        side,
        sum(
            units_so_far * unit_price
            + case when segment_number = fee_segment then flat_fee else 0 end
        ) as rating
    from (
        select
            *,
            coalesce(
                min(case when units_so_far > 0 then segment_number end) over (partition by event_row_key, side),
                min(segment_number) over (partition by event_row_key, side)
            ) as fee_segment
        from volume_segment_ratings
    ) as fee_segments
    group by event_row_key, side
),

-- Nothing is rated before the period's first billable unit: the event that brings it pays the
-- flat fee of the tier it lands in (at zero units the first tier's fee is zero_quantity_fees').
volume as (
    select
        after_event.event_row_key,
        case when positioned.position_after = 0 then 0 else after_event.rating end
        - case when positioned.position_before = 0 then 0 else before_event.rating end as charge
    from volume_ratings as after_event
    inner join volume_ratings as before_event
        on after_event.event_row_key = before_event.event_row_key
        and before_event.side = 'before'
    inner join positioned
        on after_event.event_row_key = positioned.event_row_key
    where after_event.side = 'after'
),

percentage as (
    select
        percentage_charges.event_row_key,
        percentage_charges.charge
    from {{ ref('int_percentage_event_charges') }} as percentage_charges
    inner join positioned
        on percentage_charges.event_row_key = positioned.event_row_key
        and percentage_charges.rated_cohort = positioned.delivery_cohort
),

-- A period of a tiered line without a billable unit: the first tier's flat fee of its first
-- segment, the whole of its rated amount (int_usage_charges), is a charge dated the period's
-- first day.
zero_quantity_fees as (
    select
        {{ dbt.concat(["'flat_fee:'", "segments.billing_segment_key"]) }} as event_row_key,
        segments.contract_line_id,
        segments.line_key,
        segments.contract_id,
        segments.billing_period_key,
        segments.billing_segment_key,
        cast(0 as {{ dbt.type_bigint() }}) as period_event_order,
        cast(segments.segment_start as {{ dbt.type_timestamp() }}) as event_at,
        segments.segment_start as event_date,
        segments.price_model,
        cast(0 as {{ decimal_type() }}) as position_before,
        cast(0 as {{ decimal_type() }}) as position_after,
        tiers.flat_fee as charge
    from first_ratings as segments
    inner join {{ ref('int_price_tiers') }} as tiers
        on segments.pricing_version = tiers.line_version_key
        and tiers.tier_number = 1
    where segments.price_model in ('graduated', 'graduated_percentage', 'volume')
        and segments.segment_number = 1
        and segments.segment_start <= {{ as_of_date() }}
        and tiers.flat_fee <> 0
        and not exists (
            select 1
            from first_ratings as other_segments
            where other_segments.contract_line_id = segments.contract_line_id
                and other_segments.billing_period_key = segments.billing_period_key
                and other_segments.end_position > 0
        )
)

select
    positioned.event_row_key,
    positioned.contract_line_id,
    positioned.line_key,
    positioned.contract_id,
    positioned.billing_period_key,
    positioned.billing_segment_key,
    positioned.period_event_order,
    -- Load order, which breaks ties in event time wherever time order matters (credit drawdown).
    positioned.load_id,
    positioned.file_name,
    positioned.file_row,
    positioned.event_at,
    positioned.event_date,
    positioned.price_model,
    positioned.position_before,
    positioned.position_after,
    cast(case positioned.price_model
        when 'unit' then (positioned.position_after - positioned.position_before) * positioned.unit_price
        when 'package' then (
            {{ ceil_ratio('case when positioned.position_after > positioned.free_units then positioned.position_after - positioned.free_units else 0 end', 'positioned.package_size') }}
            - {{ ceil_ratio('case when positioned.position_before > positioned.free_units then positioned.position_before - positioned.free_units else 0 end', 'positioned.package_size') }}
        ) * positioned.package_price
        when 'graduated' then graduated.charge
        when 'graduated_percentage' then graduated.charge
        when 'volume' then volume.charge
        when 'percentage' then percentage.charge
    end as {{ decimal_type(38, 20) }}) as charge
from positioned
left join graduated
    on positioned.event_row_key = graduated.event_row_key
left join volume
    on positioned.event_row_key = volume.event_row_key
left join percentage
    on positioned.event_row_key = percentage.event_row_key

union all

select
    event_row_key,
    contract_line_id,
    line_key,
    contract_id,
    billing_period_key,
    billing_segment_key,
    period_event_order,
    cast(null as {{ dbt.type_string() }}) as load_id,
    cast(null as {{ dbt.type_string() }}) as file_name,
    cast(null as {{ dbt.type_bigint() }}) as file_row,
    event_at,
    event_date,
    price_model,
    position_before,
    position_after,
    cast(charge as {{ decimal_type(38, 20) }}) as charge
from zero_quantity_fees
