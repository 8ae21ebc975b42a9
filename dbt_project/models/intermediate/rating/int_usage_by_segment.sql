-- Usage of each usage line per billing segment, aggregated the way the line's meter says
-- (scenario-format.md, "Aggregation"): sum, max, count, unique_count of a property, or latest
-- (the value of the event with the greatest timestamp). Read from the daily rollups of the
-- valid, deduplicated events (int_usage_daily_placed), never from the events themselves; a
-- segment without usage has quantity 0, because a graduated price's first flat fee and a
-- prorated allowance still apply to it.
-- One row per segment and delivery cohort of its period: cohort c aggregates the events of
-- cohorts 0..c, so cohort 0 is the period's first (final) rating and each later cohort the
-- re-rating an adjustment is the difference to. An open period has cohort 0 only.
-- Revenue recognition adds consumption cuts (issue 6, `as_consumed`): for every month end
-- inside a billing period, a row at the period's newest cohort aggregating only the events up
-- to that day, so the rating below gives "the rated amount of the usage consumed so far".
-- consumed_through is null on the billing rows and the month end on a cut row.
with segments as (
    select *
    from {{ ref('int_billing_segments') }}
    where line_kind = 'usage'
),

-- The daily rollups in their segments, with their delivery cohorts.
events as (
    select * from {{ ref('int_usage_daily_placed') }}
),

-- The distinct values a unique_count meter counts, placed as their day's rollup.
property_values as (
    select
        events.billing_segment_key,
        events.delivery_cohort,
        events.usage_date,
        property_values.property_text
    from events
    inner join {{ ref('int_usage_daily_property_values') }} as property_values
        on events.customer_key = property_values.customer_key
        and events.meter_id = property_values.meter_id
        and events.usage_date = property_values.usage_date
        and events.delivered_on = property_values.delivered_on
),

lines as (
    select
        contract_line_id,
        meter_id
    from {{ ref('stg_salesforce__contract_lines') }}
),

meters as (
    select * from {{ ref('meters') }}
),

period_cohorts as (
    select distinct
        contract_line_id,
        billing_period_key,
        delivery_cohort
    from events
    where delivery_cohort > 0
    union all
    select distinct
        contract_line_id,
        billing_period_key,
        0 as delivery_cohort
    from segments
),

period_bounds as (
    select
        contract_line_id,
        billing_period_key,
        min(period_start) as period_start,
        max(period_end) as period_end
    from segments
    group by contract_line_id, billing_period_key
),

month_offsets as (
    {{ integer_spine(2) }}
),

-- The month ends a billing period runs past: cut points of its consumption (none for a
-- period inside one calendar month).
consumption_cuts as (
    select
        period_bounds.contract_line_id,
        period_bounds.billing_period_key,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 'month_offsets.number + 1', dbt.date_trunc('month', 'period_bounds.period_start'))) }} as date)
            as consumed_through
    from period_bounds
    cross join month_offsets
    where {{ dbt.dateadd('month', 'month_offsets.number', dbt.date_trunc('month', 'period_bounds.period_start')) }}
        < {{ dbt.date_trunc('month', 'period_bounds.period_end') }}
),

newest_cohorts as (
    select
        contract_line_id,
        billing_period_key,
        max(delivery_cohort) as delivery_cohort
    from period_cohorts
    group by contract_line_id, billing_period_key
),

period_ratings as (
    select
        contract_line_id,
        billing_period_key,
        delivery_cohort,
        cast(null as date) as consumed_through
    from period_cohorts
    union all
    select
        consumption_cuts.contract_line_id,
        consumption_cuts.billing_period_key,
        newest_cohorts.delivery_cohort,
        consumption_cuts.consumed_through
    from consumption_cuts
    inner join newest_cohorts
        on consumption_cuts.contract_line_id = newest_cohorts.contract_line_id
        and consumption_cuts.billing_period_key = newest_cohorts.billing_period_key
),

segment_cohorts as (
    select
        segments.*,
        period_ratings.delivery_cohort,
        period_ratings.consumed_through,
        {{ dbt.concat(["segments.billing_segment_key", "':c'",
                       dbt.safe_cast("period_ratings.delivery_cohort", api.Column.translate_type("string")),
                       "coalesce(" ~ dbt.concat(["':through:'", dbt.safe_cast("period_ratings.consumed_through", api.Column.translate_type("string"))]) ~ ", '')"]) }}
            as segment_rating_key
    from segments
    inner join period_ratings
        on segments.contract_line_id = period_ratings.contract_line_id
        and segments.billing_period_key = period_ratings.billing_period_key
),

measured as (
    select
        segment_cohorts.segment_rating_key,
        events.event_count,
        events.property_event_count,
        case meters.property
            when 'quantity' then events.quantity_sum
            when 'amount' then events.amount_sum
        end as summed,
        case meters.property
            when 'quantity' then events.quantity_max
            when 'amount' then events.amount_max
        end as maximum,
        case meters.property
            when 'quantity' then events.latest_quantity
            when 'amount' then events.latest_amount
        end as latest_value,
        -- For `latest`: the reading with the greatest timestamp in the segment (ties in load order).
        row_number() over (
            partition by segment_cohorts.segment_rating_key
            order by events.latest_event_at desc, events.latest_load_id desc,
                events.latest_file_name desc, events.latest_file_row desc
        ) as recency_rank
    from segment_cohorts
    inner join events
        on segment_cohorts.billing_segment_key = events.billing_segment_key
        and events.delivery_cohort <= segment_cohorts.delivery_cohort
        and (segment_cohorts.consumed_through is null or events.usage_date <= segment_cohorts.consumed_through)
    inner join meters
        on events.meter_id = meters.meter_id
),

distinct_values as (
    select
        segment_cohorts.segment_rating_key,
        count(distinct property_values.property_text) as distinct_values
    from segment_cohorts
    inner join property_values
        on segment_cohorts.billing_segment_key = property_values.billing_segment_key
        and property_values.delivery_cohort <= segment_cohorts.delivery_cohort
        and (segment_cohorts.consumed_through is null or property_values.usage_date <= segment_cohorts.consumed_through)
    group by segment_cohorts.segment_rating_key
),

aggregated as (
    select
        measured.segment_rating_key,
        cast(sum(measured.event_count) as {{ dbt.type_bigint() }}) as event_count,
        sum(measured.summed) as summed,
        max(measured.maximum) as maximum,
        max(distinct_values.distinct_values) as distinct_values,
        cast(sum(measured.property_event_count) as {{ dbt.type_bigint() }}) as property_count,
        max(case when measured.recency_rank = 1 then measured.latest_value end) as latest
    from measured
    left join distinct_values
        on measured.segment_rating_key = distinct_values.segment_rating_key
    group by measured.segment_rating_key
)

select
    segment_cohorts.segment_rating_key,
    segment_cohorts.billing_segment_key,
    segment_cohorts.delivery_cohort,
    segment_cohorts.consumed_through,
    segment_cohorts.billing_period_key,
    segment_cohorts.line_version_key,
    segment_cohorts.contract_line_id,
    segment_cohorts.line_key,
    segment_cohorts.contract_id,
    segment_cohorts.period_number,
    segment_cohorts.period_start,
    segment_cohorts.period_end,
    segment_cohorts.segment_number,
    segment_cohorts.segment_start,
    segment_cohorts.segment_end,
    segment_cohorts.days_in_segment,
    segment_cohorts.days_in_full_period,
    lines.meter_id,
    meters.aggregation,
    coalesce(aggregated.event_count, 0) as event_count,
    -- Events carrying the property the meter reads (rpt_meter_property_gaps reports a period of none).
    coalesce(aggregated.property_count, 0) as property_event_count,
    cast(coalesce(case meters.aggregation
        when 'sum' then aggregated.summed
        when 'max' then aggregated.maximum
        when 'count' then aggregated.event_count
        when 'unique_count' then coalesce(aggregated.distinct_values, 0)
        when 'latest' then aggregated.latest
    end, 0) as {{ decimal_type() }}) as quantity
from segment_cohorts
inner join lines
    on segment_cohorts.contract_line_id = lines.contract_line_id
left join meters
    on lines.meter_id = meters.meter_id
left join aggregated
    on segment_cohorts.segment_rating_key = aggregated.segment_rating_key
