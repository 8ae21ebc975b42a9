-- Usage of each usage line per billing segment, aggregated the way the line's meter says
-- (scenario-format.md, "Aggregation"): sum, max, count, unique_count of a property, or latest
-- (the value of the event with the greatest timestamp). Events are the valid, deduplicated
-- ones; a segment without events has quantity 0, because a graduated price's first flat fee and
-- a prorated allowance still apply to it.
with segments as (
    select *
    from {{ ref('int_billing_segments') }}
    where line_kind = 'usage'
),

events as (
    select
        event_row_key,
        contract_line_id,
        meter_id,
        quantity,
        amount,
        properties,
        event_at,
        {{ dbt.safe_cast('event_at', api.Column.translate_type('date')) }} as event_date
    from {{ ref('int_usage_events_attributed') }}
    where contract_line_id is not null
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

measured as (
    select
        segments.billing_segment_key,
        events.event_row_key,
        events.event_at,
        case meters.property
            when 'quantity' then events.quantity
            when 'amount' then events.amount
        end as measured_value,
        {{ json_text_value_at('events.properties', 'meters.property') }} as property_text,
        -- For `latest`: the reading with the greatest timestamp in the segment.
        row_number() over (
            partition by segments.billing_segment_key
            order by events.event_at desc, events.event_row_key desc
        ) as recency_rank
    from segments
    inner join events
        on segments.contract_line_id = events.contract_line_id
        and events.event_date between segments.segment_start and segments.segment_end
    inner join meters
        on events.meter_id = meters.meter_id
),

aggregated as (
    select
        measured.billing_segment_key,
        count(*) as event_count,
        sum(measured.measured_value) as summed,
        max(measured.measured_value) as maximum,
        count(distinct measured.property_text) as distinct_values,
        max(case when measured.recency_rank = 1 then measured.measured_value end) as latest
    from measured
    group by measured.billing_segment_key
)

select
    segments.billing_segment_key,
    segments.billing_period_key,
    segments.line_version_key,
    segments.contract_line_id,
    segments.line_key,
    segments.contract_id,
    segments.period_number,
    segments.segment_number,
    segments.segment_start,
    segments.segment_end,
    segments.days_in_segment,
    segments.days_in_full_period,
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
from segments
inner join lines
    on segments.contract_line_id = lines.contract_line_id
left join meters
    on lines.meter_id = meters.meter_id
left join aggregated
    on segments.billing_segment_key = aggregated.billing_segment_key
