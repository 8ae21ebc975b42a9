-- Monthly recurring revenue per customer and calendar month, in the customer's currency, with
-- the month's movement (issue 6):
--   recurring MRR: the recurring fees in force on the month's last day (the line version then
--   in effect, on a contract running that day), each normalized to a month (a quarterly fee
--   / 3, an annual fee / 12, rounded to the currency's minor unit);
--   usage MRR: the usage revenue recognized in the month (as consumed, what credits paid
--   included), so consumption counts the month it happens;
--   MRR = recurring + usage, ARR = 12 × MRR.
-- Movements against the month before: new (first MRR ever), reactivation (back after a month
-- at zero), expansion, contraction, churn (down to zero). Months run from a customer's first
-- MRR through the run date's month; one-time fees, true-ups and breakage are not recurring.
with months as (
    select
        accounting_period,
        period_start,
        period_end
    from {{ ref('int_accounting_periods') }}
    where period_start <= {{ as_of_date() }}
),

contracts as (
    select * from {{ ref('stg_salesforce__contracts') }}
    where contract_status = 'Activated'
        and not is_deleted
),

accounts as (
    select * from {{ ref('stg_salesforce__accounts') }}
),

recurring as (
    select
        contracts.account_id,
        contracts.currency_code,
        months.period_start,
        sum({{ prorate('versions.amount', 1,
                       "case contracts.billing_frequency when 'quarterly' then 3 when 'annual' then 12 else 1 end",
                       'currencies.minor_units') }}) as recurring_mrr
    from {{ ref('int_contract_line_versions') }} as versions
    inner join contracts
        on versions.contract_id = contracts.contract_id
    inner join {{ ref('int_contract_currencies') }} as currencies
        on versions.contract_id = currencies.contract_id
    inner join months
        on months.period_end between versions.effective_from and versions.effective_to
        and months.period_end between contracts.start_date and contracts.end_date
    where versions.line_kind = 'recurring_fee'
    group by contracts.account_id, contracts.currency_code, months.period_start
),

usage as (
    select
        contracts.account_id,
        contracts.currency_code,
        recognition.accounting_period_start as period_start,
        sum(recognition.recognized) as usage_mrr
    from {{ ref('int_revenue_recognition') }} as recognition
    inner join contracts
        on recognition.contract_id = contracts.contract_id
    where recognition.obligation_kind in ('usage', 'credit_drawdown')
        and recognition.accounting_period_start <= {{ as_of_date() }}
    group by contracts.account_id, contracts.currency_code, recognition.accounting_period_start
),

customer_spans as (
    select
        account_id,
        currency_code,
        min(period_start) as first_month
    from (
        select account_id, currency_code, period_start from recurring where recurring_mrr <> 0
        union all
        select account_id, currency_code, period_start from usage where usage_mrr <> 0
    ) as active
    group by account_id, currency_code
),

customer_months as (
    select
        customer_spans.account_id,
        customer_spans.currency_code,
        months.accounting_period,
        months.period_start,
        coalesce(recurring.recurring_mrr, 0) as recurring_mrr,
        coalesce(usage.usage_mrr, 0) as usage_mrr,
        coalesce(recurring.recurring_mrr, 0) + coalesce(usage.usage_mrr, 0) as mrr
    from customer_spans
    inner join months
        on months.period_start >= customer_spans.first_month
    left join recurring
        on customer_spans.account_id = recurring.account_id
        and customer_spans.currency_code = recurring.currency_code
        and months.period_start = recurring.period_start
    left join usage
        on customer_spans.account_id = usage.account_id
        and customer_spans.currency_code = usage.currency_code
        and months.period_start = usage.period_start
),

compared as (
    select
        *,
        coalesce(lag(mrr) over (partition by account_id, currency_code order by period_start), 0) as previous_mrr,
        coalesce(max(mrr) over (
            partition by account_id, currency_code
            order by period_start
            rows between unbounded preceding and 1 preceding
        ), 0) as earlier_peak_mrr
    from customer_months
)

select
    {{ dbt.concat(["accounts.customer_key", "':'", "compared.accounting_period"]) }} as mrr_key,
    accounts.customer_key,
    compared.accounting_period,
    compared.period_start,
    compared.currency_code,
    accounts.subsidiary_code,
    cast(compared.recurring_mrr as {{ decimal_type() }}) as recurring_mrr,
    cast(compared.usage_mrr as {{ decimal_type() }}) as usage_mrr,
    cast(compared.mrr as {{ decimal_type() }}) as mrr,
    cast(compared.mrr * 12 as {{ decimal_type() }}) as arr,
    cast(compared.previous_mrr as {{ decimal_type() }}) as previous_mrr,
    case
        when compared.previous_mrr = 0 and compared.mrr > 0 and compared.earlier_peak_mrr = 0 then 'new'
        when compared.previous_mrr = 0 and compared.mrr > 0 then 'reactivation'
        when compared.previous_mrr > 0 and compared.mrr <= 0 then 'churn'
        when compared.mrr > compared.previous_mrr then 'expansion'
        when compared.mrr < compared.previous_mrr then 'contraction'
        else 'unchanged'
    end as movement,
    cast(case when compared.previous_mrr = 0 and compared.mrr > 0 and compared.earlier_peak_mrr = 0 then compared.mrr else 0 end
        as {{ decimal_type() }}) as new_mrr,
    cast(case when compared.previous_mrr = 0 and compared.mrr > 0 and compared.earlier_peak_mrr > 0 then compared.mrr else 0 end
        as {{ decimal_type() }}) as reactivation_mrr,
    cast(case when compared.previous_mrr > 0 and compared.mrr > compared.previous_mrr then compared.mrr - compared.previous_mrr else 0 end
        as {{ decimal_type() }}) as expansion_mrr,
    cast(case when compared.previous_mrr > 0 and compared.mrr > 0 and compared.mrr < compared.previous_mrr
        then compared.mrr - compared.previous_mrr else 0 end as {{ decimal_type() }}) as contraction_mrr,
    cast(case when compared.previous_mrr > 0 and compared.mrr <= 0 then -compared.previous_mrr else 0 end
        as {{ decimal_type() }}) as churned_mrr
from compared
inner join accounts
    on compared.account_id = accounts.account_id
-- Months after a churn with nothing before or after stay out once the customer is gone.
where compared.mrr <> 0
    or compared.previous_mrr <> 0
