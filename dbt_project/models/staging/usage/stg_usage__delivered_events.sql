{{ config(
    materialized="incremental",
    unique_key="event_row_key",
    incremental_strategy="delete+insert",
    on_schema_change="fail",
    post_hook=[
        "delete from {{ this }} where not exists (select 1 from {{ ref('stg_usage__files') }} as current_files"
        ~ " where current_files.file_name = {{ this }}.file_name and current_files.file_version = {{ this }}.file_version)"
    ]
) }}

-- Every event row of the current version of every usage file, exactly once, with what becomes
-- of it: `valid` (billable), `duplicate` (an exact copy of an event already counted) or
-- `quarantined` with the one reason it cannot be billed. valid + duplicate + quarantined = the
-- rows in the files.
--
-- Duplicates: the first occurrence of an event ID in load order wins; a later copy with the
-- same payload is an exact duplicate, with another payload a conflict (reported, not counted).
-- Payloads compare on parsed values, so "12" and "12.0", or one instant written two ways, agree.
--
-- Incremental: a run reclassifies only the event IDs a new load touched (every row of such an
-- ID, in whatever load or file, so the first occurrence is found as in a full build), the rows
-- of files a new load delivered (rows without an ID, and repeated packages), and the IDs of rows
-- whose file version was replaced; the post-hook drops rows of replaced versions. A change in
-- the customer or meter catalogue reclassifies everything (the reasons depend on both).
-- An orchestrated run also passes its daily partition window (vars usage_delivered_from /
-- usage_delivered_through): the rows of files delivered inside it are classified again, with
-- every row of their event IDs, so materializing a partition again recomputes that partition.
{%- set window = delivery_window() %}
with raw_rows as (
    select * from {{ source('usage', 'usage_events') }}
),

current_files as (
    select file_name, file_version, delivered_on from {{ ref('stg_usage__files') }}
),

customers as (
    select distinct customer_key
    from {{ ref('stg_salesforce__accounts') }}
    where not is_deleted
),

meters as (
    select meter_id from {{ ref('meters') }}
),

-- The catalogue the reasons were decided against: a different one reclassifies every row.
reference_catalogue as (
    select
        {{ dbt.hash(dbt.concat([
            "coalesce((select " ~ dbt.listagg('customer_key', "','", 'order by customer_key') ~ " from customers), '')",
            "'|'",
            "coalesce((select " ~ dbt.listagg('meter_id', "','", 'order by meter_id') ~ " from meters), '')"
        ])) }} as catalogue_hash
),

renamed as (
    select
        nullif(trim(raw_rows.event_id), '') as event_id,
        raw_rows.customer_id as customer_key,
        raw_rows.meter as meter_id,
        raw_rows.quantity as quantity_text,
        {{ decimal_from_text('raw_rows.quantity') }} as quantity,
        raw_rows.amount as amount_text,
        {{ decimal_from_text('raw_rows.amount') }} as amount,
        raw_rows.{{ adapter.quote('timestamp') }} as event_timestamp_text,
        {{ utc_timestamp_from_text('raw_rows.' ~ adapter.quote('timestamp')) }} as event_at,
        raw_rows.properties,
        raw_rows.source as usage_source,
        raw_rows.parse_error,
        raw_rows.file_name,
        raw_rows.file_version,
        raw_rows.file_row,
        current_files.delivered_on,
        raw_rows._dlt_load_id as load_id
    from raw_rows
    inner join current_files
        on raw_rows.file_name = current_files.file_name
        and raw_rows.file_version = current_files.file_version
    {%- if is_incremental() %}
    where (select catalogue_hash from reference_catalogue)
            <> coalesce((select max(catalogue_hash) from {{ this }}), '')
        or exists (
            select 1 from raw_rows as newly_loaded
            where newly_loaded._dlt_load_id > (select max(load_id) from {{ this }})
                and newly_loaded.file_name = raw_rows.file_name
                and newly_loaded.file_version = raw_rows.file_version
        )
        {%- if window %}
        or current_files.delivered_on between {{ window }}
        {%- endif %}
        or nullif(trim(raw_rows.event_id), '') in (
            select nullif(trim(event_id), '') from raw_rows
            where _dlt_load_id > (select max(load_id) from {{ this }})
            {%- if window %}
            union all
            select nullif(trim(window_rows.event_id), '')
            from raw_rows as window_rows
            inner join current_files as window_files
                on window_rows.file_name = window_files.file_name
                and window_rows.file_version = window_files.file_version
            where window_files.delivered_on between {{ window }}
            {%- endif %}
            union all
            select event_id from {{ this }} as classified_before
            where not exists (
                select 1 from current_files
                where current_files.file_name = classified_before.file_name
                    and current_files.file_version = classified_before.file_version
            )
        )
    {%- endif %}
),

-- A load package applied twice would repeat a file version's rows: the first load keeps them.
delivered_once as (
    select *
    from (
        select
            *,
            row_number() over (
                partition by file_name, file_version, file_row order by load_id
            ) as delivery_copy
        from renamed
    ) as numbered
    where delivery_copy = 1
),

hashed as (
    select
        *,
        {{ dbt.hash(dbt.concat([
            "coalesce(customer_key, '')", "'|'",
            "coalesce(meter_id, '')", "'|'",
            "coalesce(" ~ dbt.safe_cast("quantity", api.Column.translate_type("string")) ~ ", quantity_text, '')", "'|'",
            "coalesce(" ~ dbt.safe_cast("amount", api.Column.translate_type("string")) ~ ", amount_text, '')", "'|'",
            "coalesce(" ~ dbt.safe_cast("event_at", api.Column.translate_type("string")) ~ ", event_timestamp_text, '')", "'|'",
            "coalesce(properties, '')"
        ])) }} as payload_hash
    from delivered_once
),

-- One pass over each event ID in load order: the row's place, and the first row's payload.
fingerprinted as (
    select
        *,
        row_number() over (
            partition by event_id order by load_id, file_name, file_row
        ) as occurrence,
        first_value(payload_hash) over (
            partition by event_id order by load_id, file_name, file_row
        ) as first_payload_hash
    from hashed
),

classified as (
    select
        fingerprinted.*,
        case
            when fingerprinted.parse_error is not null then 'malformed_record'
            when fingerprinted.event_id is null then 'missing_event_id'
            when fingerprinted.occurrence > 1
                and fingerprinted.payload_hash = fingerprinted.first_payload_hash then 'exact_duplicate'
            when fingerprinted.occurrence > 1 then 'conflicting_duplicate'
            when fingerprinted.event_at is null then 'unparseable_timestamp'
            when fingerprinted.quantity_text is null then 'missing_quantity'
            when fingerprinted.quantity is null then 'non_numeric_quantity'
            when fingerprinted.quantity < 0 then 'negative_quantity'
            when fingerprinted.amount is null and fingerprinted.amount_text is not null then 'non_numeric_amount'
            when customers.customer_key is null then 'unknown_customer'
            when meters.meter_id is null then 'unknown_meter'
        end as rejection_reason
    from fingerprinted
    left join customers on fingerprinted.customer_key = customers.customer_key
    left join meters on fingerprinted.meter_id = meters.meter_id
)

select
    {{ dbt.concat(["file_name", "':'", dbt.safe_cast("file_row", api.Column.translate_type("string"))]) }}
        as event_row_key,
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
    file_version,
    file_row,
    delivered_on,
    load_id,
    payload_hash,
    case
        when rejection_reason is null then 'valid'
        when rejection_reason = 'exact_duplicate' then 'duplicate'
        else 'quarantined'
    end as disposition,
    case when rejection_reason <> 'exact_duplicate' then rejection_reason end as quarantine_reason,
    case when rejection_reason = 'malformed_record' then parse_error end as quarantine_detail,
    -- Late: delivered after the calendar month of the event had ended (plus the grace).
    coalesce(
        event_at is not null and delivered_on > {{ dbt.dateadd(
            'day', var('usage_late_grace_days'),
            dbt.last_day(dbt.safe_cast('event_at', api.Column.translate_type('date')), 'month')) }},
        false
    ) as is_late_arrival,
    (select catalogue_hash from reference_catalogue) as catalogue_hash
from classified
