-- Lineage from money back to events (issue 5): one row per usage event billed, with the usage
-- record and the usage invoice line it counts in and the file row it came from. Late events
-- point at their adjustment record and its invoice line.
-- A view (issue 23): an event is placed through its daily rollup (int_usage_daily_placed: same
-- customer, meter, usage day and delivery day), so the list stays complete without a daily run
-- reading the event history; `meterledger trace` reads the few rows it asks for.
{{ config(materialized="view") }}

with events as (
    select
        event_row_key,
        event_id,
        customer_key,
        meter_id,
        event_at,
        {{ dbt.safe_cast('event_at', api.Column.translate_type('date')) }} as usage_date,
        delivered_on,
        usage_source,
        file_name,
        file_row
    from {{ ref('int_usage_events_classified') }}
    where disposition = 'valid'
),

placed as (
    select * from {{ ref('int_usage_daily_placed') }}
),

records as (
    select * from {{ ref('int_usage_records') }}
)

select
    events.event_row_key,
    events.event_id,
    placed.line_key,
    events.meter_id,
    events.event_at,
    events.delivered_on,
    cast(placed.delivery_cohort as {{ dbt.type_int() }}) as delivery_cohort,
    records.external_id as usage_record_external_id,
    case
        when placed.delivery_cohort = 0
            then {{ dbt.concat(["'usage:'", "placed.billing_segment_key", "':c0'"]) }}
        else {{ dbt.concat(["'usage:'", "records.external_id"]) }}
    end as invoice_line_key,
    placed.billing_segment_key,
    placed.billing_period_key,
    placed.line_version_key as pricing_version,
    events.usage_source,
    events.file_name,
    cast(events.file_row as {{ dbt.type_bigint() }}) as file_row
from events
inner join placed
    on events.customer_key = placed.customer_key
    and events.meter_id = placed.meter_id
    and events.usage_date = placed.usage_date
    and events.delivered_on = placed.delivered_on
inner join records
    on placed.contract_line_id = records.contract_line_id
    and placed.billing_period_key = records.original_billing_period_key
    and placed.delivery_cohort = records.adjustment_sequence
