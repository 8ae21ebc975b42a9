-- Usage per contract line, meter and calendar month, aggregated the way the meter defines.
-- This is the walking skeleton's usage mart: billing periods, rating and finality by the
-- billing rules of scenario-format.md replace calendar months in the rating issue.
with events as (
    select * from {{ ref('int_usage_events_attributed') }}
    where contract_line_id is not null
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
        events.*,
        meters.aggregation,
        case meters.property
            when 'quantity' then events.quantity
            when 'amount' then events.amount
        end as measured_value,
        {{ meter_property_text('events', 'meters.property') }} as property_text,
        {{ dbt.safe_cast(dbt.date_trunc('month', 'events.event_at'), api.Column.translate_type('date')) }}
            as usage_month
    from events
    inner join meters on events.meter_id = meters.meter_id
),

ranked as (
    select
        *,
        -- For `latest`: the reading with the greatest timestamp in the month; among equal
        -- timestamps the last loaded (as int_usage_by_segment; event_row_key is text and
        -- would put file row 9 after row 10).
        row_number() over (
            partition by contract_line_id, usage_month
            order by event_at desc, load_id desc, file_name desc, file_row desc
        ) as recency_rank
    from measured
),

aggregated as (
    select
        contract_line_id,
        line_key,
        contract_id,
        contract_key,
        account_id,
        customer_key,
        meter_id,
        aggregation,
        currency_code,
        netsuite_subscription_line_id,
        usage_month,
        count(*) as event_count,
        cast(sum(case when is_late_arrival then 1 else 0 end) as {{ dbt.type_bigint() }}) as late_event_count,
        cast(case aggregation
            when 'sum' then sum(measured_value)
            when 'max' then max(measured_value)
            when 'count' then count(*)
            when 'unique_count' then count(distinct property_text)
            when 'latest' then max(case when recency_rank = 1 then measured_value end)
        end as {{ decimal_type() }}) as quantity
    from ranked
    group by
        contract_line_id, line_key, contract_id, contract_key, account_id, customer_key, meter_id,
        aggregation, currency_code, netsuite_subscription_line_id, usage_month
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
