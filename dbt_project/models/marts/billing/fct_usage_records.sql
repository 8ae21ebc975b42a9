-- The SuiteBilling Usage Records meterledger expects in NetSuite: one per usage line, meter and
-- billing period that has started by the run date, plus one per adjustment (issue 5). The
-- external ID is built from the subscription line, the meter and the (original) period, so a
-- record keeps its ID across runs; an adjustment adds its sequence.
with records as (
    select * from {{ ref('int_usage_records') }}
    where period_start <= {{ as_of_date() }}
),

lines as (
    select * from {{ ref('stg_salesforce__contract_lines') }}
),

contracts as (
    select * from {{ ref('stg_salesforce__contracts') }}
),

accounts as (
    select * from {{ ref('stg_salesforce__accounts') }}
)

select
    records.external_id,
    contracts.contract_key,
    records.line_key,
    accounts.customer_key,
    records.meter_id,
    records.billing_period_key,
    records.period_start,
    records.period_end,
    cast(records.quantity as {{ decimal_type() }}) as quantity,
    cast(records.amount as {{ decimal_type() }}) as amount,
    records.currency_code,
    records.pricing_version,
    records.usage_status,
    records.original_period_start,
    records.original_period_end,
    cast(records.adjustment_sequence as {{ dbt.type_int() }}) as adjustment_sequence,
    records.adjustment_reason,
    cast(records.event_count as {{ dbt.type_bigint() }}) as event_count,
    records.period_end as usage_date,
    contracts.netsuite_subscription_id,
    lines.netsuite_subscription_line_id
from records
inner join lines
    on records.contract_line_id = lines.contract_line_id
inner join contracts
    on records.contract_id = contracts.contract_id
inner join accounts
    on contracts.account_id = accounts.account_id
