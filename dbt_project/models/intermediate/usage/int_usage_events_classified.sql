-- Every delivered event row with the one reason it cannot be billed, or none.
-- Duplicates: the first occurrence of an event ID in load order wins; a later copy with the
-- same payload is an exact duplicate, with another payload a conflict (neither is counted).
with events as (
    select * from {{ ref('stg_usage__events') }}
),

customers as (
    select distinct customer_key
    from {{ ref('stg_salesforce__accounts') }}
    where not is_deleted
),

meters as (
    select meter_id from {{ ref('meters') }}
),

fingerprinted as (
    select
        *,
        {{ dbt.hash(dbt.concat([
            "coalesce(customer_key, '')", "'|'", "coalesce(meter_id, '')", "'|'",
            "coalesce(quantity_text, '')", "'|'", "coalesce(amount_text, '')", "'|'",
            "coalesce(event_timestamp_text, '')", "'|'", "coalesce(properties, '')"
        ])) }} as payload_hash,
        row_number() over (
            partition by event_id order by load_id, file_name, file_row
        ) as occurrence
    from events
),

first_occurrences as (
    select event_id, payload_hash as first_payload_hash
    from fingerprinted
    where event_id is not null and occurrence = 1
),

classified as (
    select
        fingerprinted.*,
        case
            when fingerprinted.event_id is null then 'missing_event_id'
            when fingerprinted.occurrence > 1
                and fingerprinted.payload_hash = first_occurrences.first_payload_hash then 'exact_duplicate'
            when fingerprinted.occurrence > 1 then 'conflicting_duplicate'
            when fingerprinted.event_at is null then 'unparseable_timestamp'
            when fingerprinted.quantity is null and fingerprinted.quantity_text is not null
                then 'non_numeric_quantity'
            when fingerprinted.quantity < 0 then 'negative_quantity'
            when customers.customer_key is null then 'unknown_customer'
            when meters.meter_id is null then 'unknown_meter'
        end as quarantine_reason
    from fingerprinted
    left join first_occurrences on fingerprinted.event_id = first_occurrences.event_id
    left join customers on fingerprinted.customer_key = customers.customer_key
    left join meters on fingerprinted.meter_id = meters.meter_id
)

select
    event_row_key,
    event_id,
    customer_key,
    meter_id,
    quantity_text,
    quantity,
    amount_text,
    amount,
    event_timestamp_text,
    event_at,
    properties,
    usage_source,
    file_name,
    file_row,
    delivered_on,
    load_id,
    payload_hash,
    quarantine_reason,
    quarantine_reason is null as is_valid,
    -- Late: delivered after the calendar month of the event had ended (plus the grace).
    coalesce(
        event_at is not null and delivered_on > {{ dbt.dateadd(
            'day', var('usage_late_grace_days'),
            dbt.last_day(dbt.safe_cast('event_at', api.Column.translate_type('date')), 'month')) }},
        false
    ) as is_late_arrival
from classified
