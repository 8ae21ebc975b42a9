-- Usage per contract line, meter and calendar month, aggregated the way the meter defines.
-- This is the walking skeleton's usage mart: billing periods, rating and finality by the
-- billing rules of scenario-format.md replace calendar months in the rating issue.
-- Read from the daily rollups of the valid events (int_usage_daily), never the events.
with daily as (
    select
        daily.*,
        lines.line_key,
        lines.contract_id,
        lines.contract_key,
        lines.account_id,
        lines.currency_code,
        lines.netsuite_subscription_line_id
    from {{ ref('int_usage_daily_attributed') }} as daily
    inner join {{ ref('int_usage_lines') }} as lines
        on daily.contract_line_id = lines.contract_line_id
),

meters as (
    select * from {{ ref('meters') }}
),

watermark as (
    -- Usage is complete only through the slowest source.
    select min(complete_through) as complete_through
    from {{ ref('stg_usage__watermarks') }}
),

measured as (
    select
        daily.*,
        meters.aggregation,
        case meters.property when 'quantity' then daily.quantity_sum when 'amount' then daily.amount_sum end
            as summed,
        case meters.property when 'quantity' then daily.quantity_max when 'amount' then daily.amount_max end
            as maximum,
        case meters.property when 'quantity' then daily.latest_quantity when 'amount' then daily.latest_amount end
            as latest_value,
        -- Late: delivered after the calendar month of the usage had ended (plus the grace).
        case
            when daily.delivered_on > {{ dbt.dateadd('day', var('usage_late_grace_days'),
                                                     dbt.last_day('daily.usage_date', 'month')) }}
                then daily.event_count
            else 0
        end as late_events,
        {{ dbt.safe_cast(dbt.date_trunc('month', 'daily.usage_date'), api.Column.translate_type('date')) }}
            as usage_month
    from daily
    inner join meters on daily.meter_id = meters.meter_id
),

ranked as (
    select
        *,
        -- For `latest`: the reading with the greatest timestamp in the month; among equal
        -- timestamps the last loaded (as int_usage_by_segment).
        row_number() over (
            partition by contract_line_id, usage_month
            order by latest_event_at desc, latest_load_id desc, latest_file_name desc, latest_file_row desc
        ) as recency_rank
    from measured
),

-- Distinct values of a unique_count meter in the month, across its days.
distinct_values as (
    select
        daily.contract_line_id,
        {{ dbt.safe_cast(dbt.date_trunc('month', 'daily.usage_date'), api.Column.translate_type('date')) }}
            as usage_month,
        count(distinct property_values.property_text) as distinct_values
    from daily
    inner join {{ ref('int_usage_daily_property_values') }} as property_values
        on daily.customer_key = property_values.customer_key
        and daily.meter_id = property_values.meter_id
        and daily.usage_date = property_values.usage_date
        and daily.delivered_on = property_values.delivered_on
    group by 1, 2
),

aggregated as (
    select
        ranked.contract_line_id,
        ranked.line_key,
        ranked.contract_id,
        ranked.contract_key,
        ranked.account_id,
        ranked.customer_key,
        ranked.meter_id,
        ranked.aggregation,
        ranked.currency_code,
        ranked.netsuite_subscription_line_id,
        ranked.usage_month,
        cast(sum(ranked.event_count) as {{ dbt.type_bigint() }}) as event_count,
        cast(sum(ranked.late_events) as {{ dbt.type_bigint() }}) as late_event_count,
        cast(case ranked.aggregation
            when 'sum' then sum(ranked.summed)
            when 'max' then max(ranked.maximum)
            when 'count' then sum(ranked.event_count)
            when 'unique_count' then coalesce(max(distinct_values.distinct_values), 0)
            when 'latest' then max(case when ranked.recency_rank = 1 then ranked.latest_value end)
        end as {{ decimal_type() }}) as quantity
    from ranked
    left join distinct_values
        on ranked.contract_line_id = distinct_values.contract_line_id
        and ranked.usage_month = distinct_values.usage_month
    group by
        ranked.contract_line_id, ranked.line_key, ranked.contract_id, ranked.contract_key, ranked.account_id,
        ranked.customer_key, ranked.meter_id, ranked.aggregation, ranked.currency_code,
        ranked.netsuite_subscription_line_id, ranked.usage_month
)

select
    {{ dbt.concat(["line_key", "':'", "meter_id", "':'",
        dbt.safe_cast("usage_month", api.Column.translate_type("string"))]) }} as usage_month_key,
    aggregated.contract_line_id,
    aggregated.line_key,
    aggregated.contract_id,
    aggregated.contract_key,
    aggregated.account_id,
    aggregated.customer_key,
    aggregated.meter_id,
    aggregated.aggregation,
    aggregated.currency_code,
    aggregated.netsuite_subscription_line_id,
    aggregated.usage_month,
    {{ dbt.last_day('aggregated.usage_month', 'month') }} as usage_month_end,
    aggregated.event_count,
    aggregated.late_event_count,
    aggregated.quantity,
    coalesce(
        {{ dbt.dateadd('day', 1, dbt.last_day('aggregated.usage_month', 'month')) }}
            <= watermark.complete_through,
        false
    ) as is_complete
from aggregated
cross join watermark
