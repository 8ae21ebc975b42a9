-- Every usage record meterledger expects (fct_usage_records) is exactly one row of the NetSuite
-- sync model with the same quantity and usage date, and a provisional record is never sendable
-- (its billing period is not final). Returns the records that are missing, extra, differ or
-- would be sent while provisional.
with expected as (
    select external_id, quantity, usage_date, usage_status
    from {{ ref('fct_usage_records') }}
),

records as (
    select external_id, usage_quantity, usage_date, sync_blocked_reason
    from {{ ref('sync_netsuite__usage_records') }}
)

select
    coalesce(expected.external_id, records.external_id) as external_id,
    expected.quantity,
    records.usage_quantity,
    expected.usage_status,
    records.sync_blocked_reason
from expected
full outer join records
    on expected.external_id = records.external_id
where expected.external_id is null
    or records.external_id is null
    or records.usage_quantity <> expected.quantity
    or records.usage_date <> expected.usage_date
    or (expected.usage_status = 'provisional' and records.sync_blocked_reason is null)
