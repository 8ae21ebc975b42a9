-- The invoice lines meterledger expects NetSuite to bill (issue 5): one per line per billing
-- period, or per segment where an amendment cuts the period, for everything that has started
-- by the run date: recurring fees, usage (at the period's first rating; late usage as the
-- adjustment's own line in the period it is booked in), minimum commitment true-ups, prepaid
-- credit purchases and the credit they apply (negative), and one-time fees.
with recurring_fees as (
    select
        charge_key as source_key,
        contract_line_id,
        contract_id,
        'recurring_fee' as invoice_line_kind,
        billing_period_key,
        segment_start as period_start,
        segment_end as period_end,
        case
            when days_in_segment = days_in_full_period then cast(1 as {{ decimal_type() }})
            else {{ prorate(1, 'days_in_segment', 'days_in_full_period', 6) }}
        end as quantity,
        amount,
        currency_code,
        invoice_date,
        pricing_version
    from {{ ref('int_recurring_fee_charges') }}
    where segment_start <= {{ as_of_date() }}
),

usage as (
    select
        charge_key as source_key,
        contract_line_id,
        contract_id,
        'usage' as invoice_line_kind,
        billing_period_key,
        segment_start as period_start,
        segment_end as period_end,
        billable_quantity as quantity,
        amount,
        currency_code,
        cast({{ dbt.dateadd('day', 1, 'period_end') }} as date) as invoice_date,
        pricing_version
    from {{ ref('int_usage_charges') }}
    where delivery_cohort = 0
        and consumed_through is null
        and segment_start <= {{ as_of_date() }}
),

usage_adjustments as (
    select
        external_id as source_key,
        contract_line_id,
        contract_id,
        'usage' as invoice_line_kind,
        billing_period_key,
        period_start,
        period_end,
        quantity,
        amount,
        currency_code,
        cast({{ dbt.dateadd('day', 1, 'period_end') }} as date) as invoice_date,
        pricing_version
    from {{ ref('int_usage_records') }}
    where usage_status = 'adjustment'
        and period_start <= {{ as_of_date() }}
),

true_ups as (
    select
        true_up_key as source_key,
        contract_line_id,
        contract_id,
        'minimum_true_up' as invoice_line_kind,
        billing_period_key,
        period_start,
        period_end,
        cast(1 as {{ decimal_type() }}) as quantity,
        true_up_amount as amount,
        currency_code,
        invoice_date,
        cast(null as {{ dbt.type_string() }}) as pricing_version
    from {{ ref('int_minimum_true_ups') }}
    where true_up_amount > 0
        and period_start <= {{ as_of_date() }}
),

one_offs as (
    select
        charge_key as source_key,
        contract_line_id,
        contract_id,
        line_kind as invoice_line_kind,
        cast(null as {{ dbt.type_string() }}) as billing_period_key,
        period_start,
        period_end,
        cast(1 as {{ decimal_type() }}) as quantity,
        amount,
        currency_code,
        invoice_date,
        cast(null as {{ dbt.type_string() }}) as pricing_version
    from {{ ref('int_one_off_charges') }}
    where invoice_date <= {{ as_of_date() }}
),

credits_applied as (
    select
        credit_application_key as source_key,
        credit_line_id as contract_line_id,
        contract_id,
        'credit_applied' as invoice_line_kind,
        billing_period_key,
        period_start,
        period_end,
        cast(1 as {{ decimal_type() }}) as quantity,
        -- The money drawn in the period, as a deduction.
        -applied_amount as amount,
        currency_code,
        invoice_date,
        cast(null as {{ dbt.type_string() }}) as pricing_version
    from {{ ref('int_credit_applications') }}
    where period_start <= {{ as_of_date() }}
),

invoice_lines as (
    select * from recurring_fees
    union all
    select * from usage
    union all
    select * from usage_adjustments
    union all
    select * from true_ups
    union all
    select * from one_offs
    union all
    select * from credits_applied
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
    {{ dbt.concat(["invoice_lines.invoice_line_kind", "':'", "invoice_lines.source_key"]) }} as invoice_line_key,
    contracts.contract_key,
    lines.line_key,
    accounts.customer_key,
    invoice_lines.invoice_line_kind,
    invoice_lines.billing_period_key,
    invoice_lines.period_start,
    invoice_lines.period_end,
    cast(invoice_lines.quantity as {{ decimal_type() }}) as quantity,
    cast(invoice_lines.amount as {{ decimal_type() }}) as amount,
    invoice_lines.currency_code,
    invoice_lines.invoice_date,
    invoice_lines.pricing_version,
    lines.netsuite_subscription_line_id
from invoice_lines
inner join lines
    on invoice_lines.contract_line_id = lines.contract_line_id
inner join contracts
    on invoice_lines.contract_id = contracts.contract_id
inner join accounts
    on contracts.account_id = accounts.account_id
