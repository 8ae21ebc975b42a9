{{ config(
    materialized="incremental",
    on_schema_change="fail",
    post_hook=[
        "delete from {{ this }} where file_name in (select file_name from {{ ref('stg_usage__files') }}"
        ~ " where file_version > 1) and not exists (select 1 from {{ ref('stg_usage__files') }} as current_files"
        ~ " where current_files.file_name = {{ this }}.file_name"
        ~ " and current_files.file_version = {{ this }}.file_version)"
    ],
    **delivery_day_partitions()
) }}

-- Every event row of the current version of every usage file, exactly once, with what becomes
-- of it: `valid` (billable), `duplicate` (an exact copy of an event already counted) or
-- `quarantined` with the one reason it cannot be billed. valid + duplicate + quarantined = the
-- rows in the files.
--
-- Duplicates: the first occurrence of an event ID in load order wins; a later copy with the
-- same payload is an exact duplicate, with another payload a conflict (reported, not counted).
-- Payloads compare on parsed values, so "12" and "12.0", or one instant written two ways, agree.
-- A row is compared with the rows of its ID delivered within usage_dedup_window_days of it
-- (docs/decisions.md, "Dedup window"), so no run reads the whole history. A row whose event is
-- older than the window when delivered may repeat one delivered before the window: it is
-- billed and flagged (is_beyond_dedup_window), and fct_usage_events_beyond_dedup_window lists it.
--
-- Incremental by delivery day: a run computes again only the days in days_to_classify
-- (new or rewritten files, the partition window, the neighbours of a rewritten file's
-- IDs) and replaces them whole. A new customer or meter catalogue classifies every day again
-- (the reasons depend on both).
{%- set window_days = var('usage_dedup_window_days') | int %}

with customers as (
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
)


{%- if is_incremental() %},

last_run as (
    select max(load_id) as load_id, max(catalogue_hash) as catalogue_hash from {{ this }}
)
{%- endif %},

files as (
    select file_name, file_version, delivered_on, load_id from {{ ref('stg_usage__files') }}
),

{%- if is_incremental() %}

new_files as (
    select * from files where load_id > coalesce((select load_id from last_run), '')
),

-- A rewritten file moves the first occurrence (in load order) of the IDs its old and new rows
-- hold: the days within the window holding those IDs are classified again too.
rewritten_files as (
    select file_name, delivered_on from new_files where file_version > 1
),

moved_ids as (
    select classified_before.event_id
    from {{ this }} as classified_before
    where classified_before.file_name in (select file_name from rewritten_files)
    union
    select rows.event_id
    from {{ ref('stg_usage__event_rows') }} as rows
    where rows.file_name in (select file_name from rewritten_files)
        and rows.load_id > coalesce((select load_id from last_run), '')
),
{%- endif %}

-- The delivery days this run classifies (all of them in a first build or a full refresh).
days_to_classify as (
    select delivered_on from files
    {%- if is_incremental() %}
    -- A new customer or meter catalogue: every day again.
    where (select catalogue_hash from reference_catalogue)
        <> coalesce((select catalogue_hash from last_run), '')
    union
    select delivered_on from new_files
    {%- if delivery_window() %}
    union
    select delivered_on from files where delivered_on between {{ delivery_window() }}
    {%- endif %}
    union
    select classified_before.delivered_on
    from {{ this }} as classified_before
    where classified_before.event_id in (select event_id from moved_ids)
        and classified_before.delivered_on
            between (select {{ dbt.dateadd('day', -window_days, 'min(delivered_on)') }} from rewritten_files)
            and (select {{ dbt.dateadd('day', window_days, 'max(delivered_on)') }} from rewritten_files)
    {%- endif %}
),

current_files as (
    select file_name, file_version, delivered_on
    from files
    where delivered_on in (select delivered_on from days_to_classify)
),

-- A load package applied twice would repeat a file version's rows: the first load keeps them.
delivered_once as (
    select *
    from (
        select
            rows.*,
            current_files.delivered_on,
            row_number() over (
                partition by rows.file_name, rows.file_version, rows.file_row order by rows.load_id
            ) as delivery_copy
        from {{ ref('stg_usage__event_rows') }} as rows
        inner join current_files
            on rows.file_name = current_files.file_name
            and rows.file_version = current_files.file_version
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

-- The rows an ID is checked against: this run's, and those of other days within the window.
candidates as (
    select event_id, load_id, file_name, file_row, delivered_on, payload_hash
    from hashed
    where event_id is not null
    {%- if is_incremental() %}
    union all
    select event_id, load_id, file_name, file_row, delivered_on, payload_hash
    from {{ this }}
    where delivered_on not in (select delivered_on from days_to_classify)
        and delivered_on
            between (select {{ dbt.dateadd('day', -window_days, 'min(delivered_on)') }} from days_to_classify)
            and (select {{ dbt.dateadd('day', window_days, 'max(delivered_on)') }} from days_to_classify)
        and event_id in (select event_id from hashed)
    {%- endif %}
),

repeated_ids as (
    select event_id
    from candidates
    group by event_id
    having count(*) > 1
),

-- For a row whose ID came before (in load order, within the window): the payload of the
-- earliest such row, the occurrence it is a copy of.
first_occurrences as (
    select event_row_key, first_payload_hash
    from (
        select
            later.event_row_key,
            earlier.payload_hash as first_payload_hash,
            row_number() over (
                partition by later.event_row_key
                order by earlier.load_id, earlier.file_name, earlier.file_row
            ) as earliness
        from (
            select
                {{ dbt.concat(["file_name", "':'", dbt.safe_cast("file_row", api.Column.translate_type("string"))]) }}
                    as event_row_key,
                *
            from hashed
            where event_id in (select event_id from repeated_ids)
        ) as later
        inner join candidates as earlier
            on earlier.event_id = later.event_id
            and (earlier.load_id < later.load_id
                or (earlier.load_id = later.load_id and earlier.file_name < later.file_name)
                or (earlier.load_id = later.load_id and earlier.file_name = later.file_name
                    and earlier.file_row < later.file_row))
            and earlier.delivered_on
                between {{ dbt.dateadd('day', -window_days, 'later.delivered_on') }}
                and {{ dbt.dateadd('day', window_days, 'later.delivered_on') }}
    ) as ranked
    where earliness = 1
),

classified as (
    select
        hashed.*,
        {{ dbt.concat(["hashed.file_name", "':'", dbt.safe_cast("hashed.file_row", api.Column.translate_type("string"))]) }}
            as event_row_key,
        case
            when hashed.parse_error is not null then 'malformed_record'
            when hashed.event_id is null then 'missing_event_id'
            when first_occurrences.event_row_key is not null
                and hashed.payload_hash = first_occurrences.first_payload_hash then 'exact_duplicate'
            when first_occurrences.event_row_key is not null then 'conflicting_duplicate'
            when hashed.event_at is null then 'unparseable_timestamp'
            when hashed.quantity_text is null then 'missing_quantity'
            when hashed.quantity is null then 'non_numeric_quantity'
            when hashed.quantity < 0 then 'negative_quantity'
            when hashed.amount is null and hashed.amount_text is not null then 'non_numeric_amount'
            when customers.customer_key is null then 'unknown_customer'
            when meters.meter_id is null then 'unknown_meter'
        end as rejection_reason
    from hashed
    left join first_occurrences
        on {{ dbt.concat(["hashed.file_name", "':'", dbt.safe_cast("hashed.file_row", api.Column.translate_type("string"))]) }}
            = first_occurrences.event_row_key
    left join customers on hashed.customer_key = customers.customer_key
    left join meters on hashed.meter_id = meters.meter_id
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
    -- Its event is older than the dedup window when delivered: an earlier delivery of the same
    -- ID, before the window, was not looked at.
    coalesce(
        event_id is not null and event_at is not null
            and {{ dbt.safe_cast('event_at', api.Column.translate_type('date')) }}
                < {{ dbt.dateadd('day', -window_days, 'delivered_on') }},
        false
    ) as is_beyond_dedup_window,
    (select catalogue_hash from reference_catalogue) as catalogue_hash,
    -- The run that classified the row: the daily rollups take in the days classified since theirs.
    {{ run_stamp() }} as classified_at
from classified
