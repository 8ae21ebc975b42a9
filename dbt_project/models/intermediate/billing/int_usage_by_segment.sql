-- Usage of each usage line per billing segment, aggregated the way the line's meter says
-- (scenario-format.md, "Aggregation"): sum, max, count, unique_count of a property, or latest
-- (the value of the event with the greatest timestamp). Events are the valid, deduplicated
-- ones; a segment without events has quantity 0, because a graduated price's first flat fee and
-- a prorated allowance still apply to it.
-- One row per segment and delivery cohort of its period: cohort c aggregates the events of
-- cohorts 0..c, so cohort 0 is the period's first (final) rating and each later cohort the
-- re-rating an adjustment is the difference to. An open period has cohort 0 only.
with segments as (
    select *
    from {{ ref('int_billing_segments') }}
    where line_kind = 'usage'
),

events as (
    select * from {{ ref('int_usage_events_segmented') }}
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

segment_cohorts as (
    select
        segments.*,
        period_cohorts.delivery_cohort
    from segments
    inner join period_cohorts
        on segments.contract_line_id = period_cohorts.contract_line_id
        and segments.billing_period_key = period_cohorts.billing_period_key
),

measured as (
    select
        segment_cohorts.billing_segment_key,
        segment_cohorts.delivery_cohort,
        events.measured_value,
        events.property_text,
        -- For `latest`: the reading with the greatest timestamp in the segment.
        row_number() over (
            partition by segment_cohorts.billing_segment_key, segment_cohorts.delivery_cohort
            order by events.period_event_order desc
        ) as recency_rank
    from segment_cohorts
    inner join events
        on segment_cohorts.billing_segment_key = events.billing_segment_key
        and events.delivery_cohort <= segment_cohorts.delivery_cohort
),

aggregated as (
    select
        billing_segment_key,
        delivery_cohort,
        count(*) as event_count,
        sum(measured_value) as summed,
        max(measured_value) as maximum,
        count(distinct property_text) as distinct_values,
        max(case when recency_rank = 1 then measured_value end) as latest
    from measured
    group by billing_segment_key, delivery_cohort
)

select
    {{ dbt.concat(["segment_cohorts.billing_segment_key", "':c'",
                   dbt.safe_cast("segment_cohorts.delivery_cohort", api.Column.translate_type("string"))]) }}
        as segment_rating_key,
    segment_cohorts.billing_segment_key,
    segment_cohorts.delivery_cohort,
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
    cast(coalesce(case meters.aggregation
        when 'sum' then aggregated.summed
        when 'max' then aggregated.maximum
        when 'count' then aggregated.event_count
        when 'unique_count' then aggregated.distinct_values
        when 'latest' then aggregated.latest
    end, 0) as {{ decimal_type() }}) as quantity
from segment_cohorts
inner join lines
    on segment_cohorts.contract_line_id = lines.contract_line_id
left join meters
    on lines.meter_id = meters.meter_id
left join aggregated
    on segment_cohorts.billing_segment_key = aggregated.billing_segment_key
    and segment_cohorts.delivery_cohort = aggregated.delivery_cohort
