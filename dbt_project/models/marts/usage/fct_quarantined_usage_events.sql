-- Usage event rows that are not billed, each with its reason: malformed, duplicate, or valid
-- but without a contract line to bill it. Nothing is dropped silently.
with classified as (
    select * from {{ ref('int_usage_events_classified') }}
),

unattributed as (
    select event_row_key
    from {{ ref('int_usage_events_attributed') }}
    where contract_line_id is null
)

select
    classified.event_row_key,
    classified.event_id,
    classified.customer_key,
    classified.meter_id,
    classified.quantity_text,
    classified.amount_text,
    classified.event_timestamp_text,
    classified.usage_source,
    classified.file_name,
    classified.file_row,
    classified.delivered_on,
    coalesce(classified.quarantine_reason, 'no_billable_line') as quarantine_reason
from classified
left join unattributed on classified.event_row_key = unattributed.event_row_key
where classified.quarantine_reason is not null
    or unattributed.event_row_key is not null
