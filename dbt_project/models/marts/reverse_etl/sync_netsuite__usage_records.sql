-- SuiteBilling Usage Records that should exist in NetSuite: one per subscription line, meter and
-- complete month. Incomplete months are provisional and never sent. The subscription and
-- customer come from NetSuite itself, so the line always belongs to both.
with usage_months as (
    select * from {{ ref('fct_usage_monthly') }}
    where is_complete
),

subscription_lines as (
    select * from {{ ref('stg_netsuite__subscription_lines') }}
),

subscriptions as (
    select * from {{ ref('stg_netsuite__subscriptions') }}
)

select
    {{ dbt.concat(["'usage:'", "usage_months.usage_month_key"]) }} as external_id,
    subscriptions.customer_id,
    subscriptions.subscription_id,
    subscription_lines.subscription_line_id,
    usage_months.quantity as usage_quantity,
    usage_months.usage_month_end as usage_date,
    {{ dbt.concat(["usage_months.meter_id", "' usage '",
        dbt.safe_cast("usage_months.usage_month", api.Column.translate_type("string"))]) }} as memo
from usage_months
inner join subscription_lines
    on usage_months.netsuite_subscription_line_id = subscription_lines.subscription_line_id
inner join subscriptions
    on subscription_lines.subscription_id = subscriptions.subscription_id
