-- Usage event rows that are not billed, each with its reason: rejected in staging (malformed,
-- conflicting duplicate, unknown customer or meter...), or valid but without a contract line to
-- bill it. Exact duplicates are not here: the event they copy is billed once.
with rejected as (
    select event_row_key, quarantine_reason
    from {{ ref('stg_usage__quarantined_events') }}
),

unattributed as (
    select event_row_key, 'no_billable_line' as quarantine_reason
    from {{ ref('int_usage_events_attributed') }}
    where contract_line_id is null
),

not_billed as (
    select * from rejected
    union all
    select * from unattributed
)

select
    delivered.event_row_key,
    delivered.event_id,
    delivered.customer_key,
    delivered.meter_id,
    delivered.quantity_text,
    delivered.amount_text,
    delivered.event_timestamp_text,
    delivered.usage_source,
    delivered.file_name,
    delivered.file_row,
    delivered.delivered_on,
    not_billed.quarantine_reason
from not_billed
inner join {{ ref('stg_usage__delivered_events') }} as delivered
    on not_billed.event_row_key = delivered.event_row_key
