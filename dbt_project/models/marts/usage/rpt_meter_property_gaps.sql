-- Usage lines whose meter reads a property that none of a billing period's events carries
-- (scenario-format.md, "Clarifications": such a meter is reported, never billed as 0 without a
-- word). The events are billed (a unique_count of nothing is 0): this says why. `count` reads no
-- property.
with events as (
    select * from {{ ref('int_usage_events_segmented') }}
),

meters as (
    select * from {{ ref('meters') }}
),

periods as (
    select * from {{ ref('int_billing_periods') }}
),

contracts as (
    select * from {{ ref('int_contracts') }}
),

carried as (
    select
        contract_line_id,
        line_key,
        contract_id,
        billing_period_key,
        meter_id,
        count(*) as event_count,
        count(property_text) as carrying_count
    from events
    group by contract_line_id, line_key, contract_id, billing_period_key, meter_id
)

select
    {{ dbt.concat(["carried.line_key", "':'", "carried.meter_id", "':'",
                   dbt.safe_cast("periods.period_start", api.Column.translate_type("string"))]) }} as property_gap_key,
    carried.contract_line_id,
    carried.line_key,
    contracts.contract_key,
    contracts.customer_key,
    carried.meter_id,
    meters.aggregation,
    meters.property,
    periods.period_start,
    periods.period_end,
    carried.event_count
from carried
inner join meters
    on carried.meter_id = meters.meter_id
inner join periods
    on carried.billing_period_key = periods.billing_period_key
inner join contracts
    on carried.contract_id = contracts.contract_id
where meters.aggregation <> 'count'
    and carried.carrying_count = 0
