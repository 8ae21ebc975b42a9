-- Every complete month of usage on a line NetSuite bills becomes exactly one usage record with
-- the same quantity. Returns the months that are missing or differ.
with complete_months as (
    select usage_month_key, quantity
    from {{ ref('fct_usage_monthly') }}
    where is_complete and netsuite_subscription_line_id is not null
),

records as (
    select external_id, usage_quantity
    from {{ ref('sync_netsuite__usage_records') }}
)

select
    complete_months.usage_month_key,
    complete_months.quantity,
    records.usage_quantity
from complete_months
full outer join records
    on records.external_id = {{ dbt.concat(["'usage:'", "complete_months.usage_month_key"]) }}
where records.external_id is null
    or complete_months.usage_month_key is null
    or records.usage_quantity <> complete_months.quantity
