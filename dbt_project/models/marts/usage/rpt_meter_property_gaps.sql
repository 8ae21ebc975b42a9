-- Usage lines whose meter reads a property that none of a billing period's events carries
-- (scenario-format.md, "Clarifications": such a meter is reported, never billed as 0 without a
-- word). The events are billed (a unique_count of nothing is 0): this says why. `count` reads no
-- property. Read from the segments' billing rows at the period's newest delivery cohort, which
-- hold every event of the period: no second pass over the events.
with segments as (
    select * from {{ ref('int_usage_by_segment') }}
    where consumed_through is null
),

meters as (
    select * from {{ ref('meters') }}
),

contracts as (
    select * from {{ ref('int_contracts') }}
),

newest as (
    select
        *,
        max(delivery_cohort) over (partition by contract_line_id, billing_period_key) as newest_cohort
    from segments
),

periods as (
    select
        contract_line_id,
        line_key,
        contract_id,
        meter_id,
        aggregation,
        period_start,
        period_end,
        sum(event_count) as event_count,
        sum(property_event_count) as property_event_count
    from newest
    where delivery_cohort = newest_cohort
    group by contract_line_id, line_key, contract_id, meter_id, aggregation, period_start, period_end
)

select
    {{ dbt.concat(["periods.line_key", "':'", "periods.meter_id", "':'",
                   dbt.safe_cast("periods.period_start", api.Column.translate_type("string"))]) }} as property_gap_key,
    periods.contract_line_id,
    periods.line_key,
    contracts.contract_key,
    contracts.customer_key,
    periods.meter_id,
    periods.aggregation,
    meters.property,
    periods.period_start,
    periods.period_end,
    periods.event_count
from periods
inner join meters
    on periods.meter_id = meters.meter_id
inner join contracts
    on periods.contract_id = contracts.contract_id
where periods.aggregation <> 'count'
    and periods.event_count > 0
    and periods.property_event_count = 0
