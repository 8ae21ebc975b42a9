-- Lineage from money back to events (issue 5): one row per usage event billed, with the usage
-- record and the usage invoice line it counts in and the file row it came from. Late events
-- point at their adjustment record and its invoice line.
with events as (
    select * from {{ ref('int_usage_events_segmented') }}
),

records as (
    select * from {{ ref('int_usage_records') }}
),

attributed as (
    select
        event_row_key,
        usage_source,
        file_name,
        file_row
    from {{ ref('int_usage_events_attributed') }}
)

select
    events.event_row_key,
    events.event_id,
    events.line_key,
    events.meter_id,
    events.event_at,
    events.delivered_on,
    cast(events.delivery_cohort as {{ dbt.type_int() }}) as delivery_cohort,
    records.external_id as usage_record_external_id,
    case
        when events.delivery_cohort = 0
            then {{ dbt.concat(["'usage:'", "events.billing_segment_key", "':c0'"]) }}
        else {{ dbt.concat(["'usage:'", "records.external_id"]) }}
    end as invoice_line_key,
    events.billing_segment_key,
    events.line_version_key as pricing_version,
    attributed.usage_source,
    attributed.file_name,
    cast(attributed.file_row as {{ dbt.type_bigint() }}) as file_row
from events
inner join records
    on events.contract_line_id = records.contract_line_id
    and events.billing_period_key = records.original_billing_period_key
    and events.delivery_cohort = records.adjustment_sequence
inner join attributed
    on events.event_row_key = attributed.event_row_key
