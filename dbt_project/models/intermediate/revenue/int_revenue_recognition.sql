-- Every revenue obligation's recognition per accounting period: the rules' schedules
-- (int_recognition_ratable, int_recognition_usage, int_recognition_prepaid_credits) in one
-- shape, with the period's amount (recognized-to-date minus the period before's), its revenue
-- stream and the accounts it moves between (ARCHITECTURE.md, "Posting model"): revenue out of
-- deferred revenue, or out of the prepaid credit deferred account for what credits paid.
-- Periods before anything is recognized are left out.
with schedules as (
    select * from {{ ref('int_recognition_ratable') }}
    union all
    select * from {{ ref('int_recognition_usage') }}
    union all
    select * from {{ ref('int_recognition_prepaid_credits') }}
),

differenced as (
    select
        *,
        recognized_to_date - coalesce(lag(recognized_to_date) over (
            partition by obligation_key
            order by accounting_period_start
        ), 0) as recognized
    from schedules
)

select
    {{ dbt.concat(["obligation_key", "':'", accounting_period_label('accounting_period_start')]) }} as recognition_key,
    obligation_key,
    obligation_kind,
    contract_line_id,
    contract_id,
    credit_line_id,
    usage_line_id,
    billing_period_key,
    {{ accounting_period_label('accounting_period_start') }} as accounting_period,
    accounting_period_start,
    service_start,
    service_end,
    case obligation_kind
        when 'recurring_fee' then 'subscription'
        when 'one_time' then 'subscription'
        when 'usage' then 'usage'
        when 'credit_drawdown' then 'usage'
        when 'minimum_true_up' then 'minimum_commitment'
        when 'credit_breakage' then 'breakage'
    end as revenue_stream,
    case
        when obligation_kind in ('credit_drawdown', 'credit_breakage') then 'deferred_revenue_prepaid'
        else 'deferred_revenue'
    end as deferred_account_role,
    case obligation_kind
        when 'recurring_fee' then 'revenue_subscription'
        when 'one_time' then 'revenue_subscription'
        when 'usage' then 'revenue_usage'
        when 'credit_drawdown' then 'revenue_usage'
        when 'minimum_true_up' then 'revenue_minimum_commitment'
        when 'credit_breakage' then 'revenue_breakage'
    end as revenue_account_role,
    obligation_total,
    cast(recognized as {{ decimal_type() }}) as recognized,
    recognized_to_date,
    currency_code
from differenced
where recognized <> 0
    or recognized_to_date <> 0
