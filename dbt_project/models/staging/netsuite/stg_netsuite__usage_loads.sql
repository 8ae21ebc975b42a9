-- When NetSuite's usage records were read back: one row per dlt load whose rows are in
-- raw_netsuite.usage, with the time its extraction began. A load ID is the Unix time (seconds,
-- with a fraction) at which dlt created the load package, before the source read anything, so a
-- record NetSuite held before that instant was read by the load. Every load of the usage table
-- re-reads the records stamped in the last second it had seen (the cursor compares with >=) and
-- merges them, which stamps them with its load ID: the newest load ID here is the last read-back,
-- whether or not it found new records. Cut to the whole second, so a time compared with it errs
-- towards "not read back yet".
with raw_rows as (
    select _dlt_load_id as load_id from {{ source('netsuite', 'usage') }}
)

select
    load_id,
    {{ dbt.dateadd(
        'second',
        'cast(floor(cast(load_id as ' ~ decimal_type(20, 6) ~ ')) as ' ~ dbt.type_bigint() ~ ')',
        "cast('1970-01-01 00:00:00' as " ~ dbt.type_timestamp() ~ ")") }} as load_started_at,
    count(*) as usage_records
from raw_rows
group by load_id
