-- Each attributed usage event in the billing segment of its line that holds its UTC day, with the
-- value its meter aggregates, its place in the period's time order, and its delivery cohort:
-- 0 for the events of the period's first rating (all of them while the period is open; those
-- delivered by its finality cut-off once it is final), n >= 1 for the n-th later delivery day
-- of a final period (each one an adjustment record).
with segments as (
    select *
    from {{ ref('int_billing_segments') }}
    where line_kind = 'usage'
),

events as (
    select
        event_row_key,
        event_id,
        contract_line_id,
        meter_id,
        quantity,
        amount,
        properties,
        event_at,
        delivered_on,
        load_id,
        file_name,
        file_row,
        {{ dbt.safe_cast('event_at', api.Column.translate_type('date')) }} as event_date
    from {{ ref('int_usage_events_attributed') }}
    where contract_line_id is not null
),

meters as (
    select * from {{ ref('meters') }}
),

finality as (
    select * from {{ ref('int_usage_period_finality') }}
),

placed as (
    select
        segments.billing_segment_key,
        segments.billing_period_key,
        segments.line_version_key,
        segments.contract_line_id,
        segments.line_key,
        segments.contract_id,
        segments.segment_number,
        events.event_row_key,
        events.event_id,
        events.meter_id,
        events.event_at,
        events.event_date,
        events.delivered_on,
        events.load_id,
        events.file_name,
        events.file_row,
        events.amount,
        case meters.property
            when 'quantity' then events.quantity
            when 'amount' then events.amount
        end as measured_value,
        {{ meter_property_text('events', 'meters.property') }} as property_text,
        -- Late: the period was final and the event came after its cut-off.
        case
            when finality.is_final and events.delivered_on > finality.deliveries_counted_through
                then events.delivered_on
        end as late_delivery_date
    from segments
    inner join events
        on segments.contract_line_id = events.contract_line_id
        and events.event_date between segments.segment_start and segments.segment_end
    inner join meters
        on events.meter_id = meters.meter_id
    inner join finality
        on segments.contract_line_id = finality.contract_line_id
        and segments.billing_period_key = finality.billing_period_key
)

select
    billing_segment_key,
    billing_period_key,
    line_version_key,
    contract_line_id,
    line_key,
    contract_id,
    segment_number,
    event_row_key,
    event_id,
    meter_id,
    event_at,
    event_date,
    delivered_on,
    load_id,
    file_name,
    file_row,
    amount,
    measured_value,
    property_text,
    -- Time order in the billing period (ties in load order): percentage allowances and credit
    -- drawdown follow it.
    row_number() over (
        partition by contract_line_id, billing_period_key
        order by event_at, load_id, file_name, file_row
    ) as period_event_order,
    case
        when late_delivery_date is null then 0
        else dense_rank() over (
            partition by contract_line_id, billing_period_key, late_delivery_date is null
            order by late_delivery_date
        )
    end as delivery_cohort,
    late_delivery_date
from placed
