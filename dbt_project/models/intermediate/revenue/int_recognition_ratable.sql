-- Revenue recognized over time or at a point in time, per obligation and accounting period
-- (scenario-format.md, "Revenue recognition"):
--   recurring fees, ratable_daily over their service period (a billing period, or the segment
--   of it under one version of the terms: each is its own invoice line), or point_in_time on
--   the invoice line's invoice date;
--   one-time fees, point_in_time on their date or ratable_daily over the contract term;
--   minimum commitment true-ups, on the last day of their billing period.
-- Cumulative rounding: recognized-to-date at an accounting period's end is
-- round(total × days elapsed / days of service), so each schedule sums exactly to its total.
-- A point in time is a one-day service period. Only obligations invoiced or begun by the run
-- date have a schedule (a ratable one-time fee begins with the contract term).
with currencies as (
    select * from {{ ref('int_contract_currencies') }}
),

lines as (
    select * from {{ ref('stg_salesforce__contract_lines') }}
),

contracts as (
    select * from {{ ref('stg_salesforce__contracts') }}
),

-- A point_in_time recurring fee is recognized whole on its invoice line's invoice date
-- (in advance: the billing period's first day; in arrears: the day after it ends), as Zuora's
-- "recognize upon invoicing" rule does; every other recurring fee is ratable_daily over its
-- segment.
recurring_fees as (
    select
        charges.charge_key as obligation_key,
        'recurring_fee' as obligation_kind,
        charges.contract_line_id,
        charges.contract_id,
        charges.billing_period_key,
        case when lines.revenue_rule = 'point_in_time' then charges.invoice_date else charges.segment_start end
            as service_start,
        case when lines.revenue_rule = 'point_in_time' then charges.invoice_date else charges.segment_end end
            as service_end,
        charges.amount
    from {{ ref('int_recurring_fee_charges') }} as charges
    left join lines
        on charges.contract_line_id = lines.contract_line_id
    where charges.segment_start <= {{ as_of_date() }}
),

one_time_fees as (
    select
        charges.charge_key as obligation_key,
        'one_time' as obligation_kind,
        charges.contract_line_id,
        charges.contract_id,
        cast(null as {{ dbt.type_string() }}) as billing_period_key,
        case when lines.revenue_rule = 'ratable_daily' then contracts.start_date else charges.period_start end
            as service_start,
        case when lines.revenue_rule = 'ratable_daily' then contracts.end_date else charges.period_start end
            as service_end,
        charges.amount
    from {{ ref('int_one_off_charges') }} as charges
    inner join lines
        on charges.contract_line_id = lines.contract_line_id
    inner join contracts
        on charges.contract_id = contracts.contract_id
    where charges.line_kind = 'one_time'
        -- A ratable fee's service is the contract term: its months recognize their share from the
        -- term's start, before the fee is invoiced (unbilled until then), whatever the run date.
        and (charges.invoice_date <= {{ as_of_date() }}
             or (lines.revenue_rule = 'ratable_daily' and contracts.start_date <= {{ as_of_date() }}))
),

true_ups as (
    select
        true_up_key as obligation_key,
        'minimum_true_up' as obligation_kind,
        contract_line_id,
        contract_id,
        billing_period_key,
        period_end as service_start,
        period_end as service_end,
        true_up_amount as amount
    from {{ ref('int_minimum_true_ups') }}
    where true_up_amount > 0
        and period_start <= {{ as_of_date() }}
),

obligations as (
    select * from recurring_fees
    union all
    select * from one_time_fees
    union all
    select * from true_ups
),

months as (
    select
        period_start,
        period_end
    from {{ ref('int_accounting_periods') }}
),

scheduled as (
    select
        obligations.*,
        months.period_start as accounting_period_start,
        currencies.currency_code,
        currencies.minor_units,
        {{ dbt.datediff('obligations.service_start', 'obligations.service_end', 'day') }} + 1 as service_days,
        {{ dbt.datediff('obligations.service_start',
                        'case when months.period_end < obligations.service_end then months.period_end else obligations.service_end end',
                        'day') }} + 1 as days_elapsed
    from obligations
    inner join months
        on months.period_end >= obligations.service_start
        and months.period_start <= obligations.service_end
    inner join currencies
        on obligations.contract_id = currencies.contract_id
)

select
    obligation_key,
    obligation_kind,
    contract_line_id,
    contract_id,
    cast(null as {{ dbt.type_string() }}) as credit_line_id,
    cast(null as {{ dbt.type_string() }}) as usage_line_id,
    billing_period_key,
    accounting_period_start,
    service_start,
    service_end,
    cast(amount as {{ decimal_type() }}) as obligation_total,
    cast(case
        when days_elapsed = service_days then amount
        else {{ prorate('amount', 'days_elapsed', 'service_days', 'minor_units') }}
    end as {{ decimal_type() }}) as recognized_to_date,
    currency_code
from scheduled
