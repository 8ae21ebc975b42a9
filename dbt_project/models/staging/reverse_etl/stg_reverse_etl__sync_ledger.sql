-- The sync ledger as the warehouse reads it: one row per destination record the reverse-ETL
-- engine attempted. Empty (same columns, same types) on a warehouse that never synced, where
-- reverse_etl.sync_ledger does not exist yet.
with ledger as (
    {{ select_from_relation_or_empty(source('reverse_etl', 'sync_ledger'), [
        ['destination', dbt.type_string()],
        ['object_name', dbt.type_string()],
        ['external_id', dbt.type_string()],
        ['payload_hash', dbt.type_string()],
        ['synced_hash', dbt.type_string()],
        ['remote_id', dbt.type_string()],
        ['status', dbt.type_string()],
        ['attempts', dbt.type_int()],
        ['last_error', dbt.type_string()],
        ['run_id', dbt.type_string()],
        ['synced_at', dbt.type_timestamp()],
        ['first_synced_at', dbt.type_timestamp()]
    ]) }}
)

select
    destination,
    object_name,
    external_id,
    payload_hash,
    synced_hash,
    remote_id,
    status as sync_status,
    attempts,
    last_error,
    run_id,
    synced_at,
    first_synced_at
from ledger
