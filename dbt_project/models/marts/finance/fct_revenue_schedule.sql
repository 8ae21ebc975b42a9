-- The revenue schedule per contract line and accounting period (issue 6): what is recognized
-- in the period and to date (int_revenue_recognition), and what is billed in it and to date.
-- Billed is the expected invoice lines (fct_invoice_lines) by invoice date, replaced by what
-- NetSuite invoiced once it has billed the line in that period (its invoices read back); the
-- credit applied stays as computed here, against the usage line it paid.
-- Prepaid credits: a credit block's line carries its purchase (billed) and its drawdown and
-- breakage (recognized); the credit an invoice applies is billed against the usage line it
-- paid for, whose schedule is the usage the customer pays in money. So every line's schedule
-- sums to what is billed for it.
-- deferred_balance = billed to date − recognized to date: negative where revenue is ahead of
-- billing (usage and in-arrears fees before their invoice; the unbilled receivable entries
-- reclassify it per contract).
with recognition as (
    select
        contract_line_id,
        accounting_period_start,
        sum(recognized) as recognized
    from {{ ref('int_revenue_recognition') }}
    group by contract_line_id, accounting_period_start
),

lines as (
    select * from {{ ref('stg_salesforce__contract_lines') }}
),

contracts as (
    select * from {{ ref('stg_salesforce__contracts') }}
),

accounts as (
    select * from {{ ref('stg_salesforce__accounts') }}
),

months as (
    select * from {{ ref('int_accounting_periods') }}
),

-- Credit applied is billed against the usage line it paid, in the parts the drawdown split it.
credit_applied_by_usage_line as (
    select distinct
        obligation_key,
        usage_line_id as contract_line_id,
        cast({{ dbt.dateadd('day', 1, 'service_end') }} as date) as invoice_date,
        -obligation_total as amount
    from {{ ref('int_recognition_prepaid_credits') }}
    where obligation_kind = 'credit_drawdown'
),

expected_invoice_lines as (
    select
        lines.contract_line_id,
        invoice_lines.invoice_date,
        invoice_lines.amount
    from {{ ref('fct_invoice_lines') }} as invoice_lines
    inner join contracts
        on invoice_lines.contract_key = contracts.contract_key
    inner join lines
        on invoice_lines.line_key = lines.line_key
        and contracts.contract_id = lines.contract_id
    where invoice_lines.invoice_line_kind <> 'credit_applied'
),

expected_billed as (
    select
        contract_line_id,
        cast({{ dbt.date_trunc('month', 'invoice_date') }} as date) as accounting_period_start,
        sum(amount) as billed
    from expected_invoice_lines
    group by contract_line_id, cast({{ dbt.date_trunc('month', 'invoice_date') }} as date)
),

-- NetSuite's invoice lines by subscription line and month. A negative line on a prepaid credit
-- line is a credit application: it is billed against the usage it paid (credit_applied above),
-- so only the purchase is taken from a prepaid credit line.
netsuite_billed as (
    select
        lines.contract_line_id,
        cast({{ dbt.date_trunc('month', 'invoices.invoice_date') }} as date) as accounting_period_start,
        sum(invoice_lines.amount) as billed
    from {{ ref('stg_netsuite__invoice_lines') }} as invoice_lines
    inner join {{ ref('stg_netsuite__invoices') }} as invoices
        on invoice_lines.invoice_id = invoices.invoice_id
    inner join lines
        on invoice_lines.subscription_line_id = lines.netsuite_subscription_line_id
    where not (lines.line_kind = 'prepaid_credit' and invoice_lines.amount < 0)
    group by lines.contract_line_id, cast({{ dbt.date_trunc('month', 'invoices.invoice_date') }} as date)
),

credit_applied_billed as (
    select
        contract_line_id,
        cast({{ dbt.date_trunc('month', 'invoice_date') }} as date) as accounting_period_start,
        sum(amount) as billed
    from credit_applied_by_usage_line
    group by contract_line_id, cast({{ dbt.date_trunc('month', 'invoice_date') }} as date)
),

invoiced as (
    select
        coalesce(netsuite_billed.contract_line_id, expected_billed.contract_line_id) as contract_line_id,
        coalesce(netsuite_billed.accounting_period_start, expected_billed.accounting_period_start)
            as accounting_period_start,
        coalesce(netsuite_billed.billed, expected_billed.billed) as billed,
        netsuite_billed.billed is not null as is_billed_by_netsuite
    from expected_billed
    full outer join netsuite_billed
        on expected_billed.contract_line_id = netsuite_billed.contract_line_id
        and expected_billed.accounting_period_start = netsuite_billed.accounting_period_start
),

billed as (
    select
        contract_line_id,
        accounting_period_start,
        sum(billed) as billed,
        max(case when is_billed_by_netsuite then 1 else 0 end) = 1 as is_billed_by_netsuite
    from (
        select * from invoiced
        union all
        select
            contract_line_id,
            accounting_period_start,
            billed,
            false as is_billed_by_netsuite
        from credit_applied_billed
    ) as billed_parts
    group by contract_line_id, accounting_period_start
),

line_spans as (
    select
        contract_line_id,
        min(accounting_period_start) as first_month,
        max(accounting_period_start) as last_month
    from (
        select contract_line_id, accounting_period_start from recognition
        union all
        select contract_line_id, accounting_period_start from billed
    ) as activity
    group by contract_line_id
),

line_months as (
    select
        line_spans.contract_line_id,
        months.accounting_period,
        months.period_start,
        months.period_end,
        months.is_complete,
        coalesce(recognition.recognized, 0) as recognized,
        coalesce(billed.billed, 0) as billed,
        coalesce(billed.is_billed_by_netsuite, false) as is_billed_by_netsuite
    from line_spans
    inner join months
        on months.period_start between line_spans.first_month and line_spans.last_month
    left join recognition
        on line_spans.contract_line_id = recognition.contract_line_id
        and months.period_start = recognition.accounting_period_start
    left join billed
        on line_spans.contract_line_id = billed.contract_line_id
        and months.period_start = billed.accounting_period_start
),

to_date as (
    select
        *,
        sum(recognized) over (
            partition by contract_line_id
            order by period_start
            rows between unbounded preceding and current row
        ) as recognized_to_date,
        sum(billed) over (
            partition by contract_line_id
            order by period_start
            rows between unbounded preceding and current row
        ) as billed_to_date
    from line_months
)

select
    {{ dbt.concat(["lines.line_key", "':'", "to_date.accounting_period"]) }} as revenue_schedule_key,
    to_date.accounting_period,
    to_date.period_start,
    to_date.period_end,
    accounts.customer_key,
    contracts.contract_key,
    lines.line_key,
    lines.line_kind,
    case lines.line_kind
        when 'recurring_fee' then 'subscription'
        when 'one_time' then 'subscription'
        when 'usage' then 'usage'
        when 'minimum_commitment' then 'minimum_commitment'
        when 'prepaid_credit' then 'prepaid_credit'
    end as revenue_stream,
    case
        when lines.line_kind = 'prepaid_credit' then 'deferred_revenue_prepaid'
        else 'deferred_revenue'
    end as deferred_account_role,
    accounts.subsidiary_code,
    contracts.currency_code,
    cast(to_date.recognized as {{ decimal_type() }}) as recognized,
    cast(to_date.recognized_to_date as {{ decimal_type() }}) as recognized_to_date,
    cast(to_date.billed as {{ decimal_type() }}) as billed,
    cast(to_date.billed_to_date as {{ decimal_type() }}) as billed_to_date,
    cast(to_date.billed_to_date - to_date.recognized_to_date as {{ decimal_type() }}) as deferred_balance,
    to_date.is_billed_by_netsuite,
    case
        when to_date.is_complete then 'final'
        when to_date.period_start <= {{ as_of_date() }} then 'provisional'
        else 'scheduled'
    end as schedule_status
from to_date
inner join lines
    on to_date.contract_line_id = lines.contract_line_id
inner join contracts
    on lines.contract_id = contracts.contract_id
inner join accounts
    on contracts.account_id = accounts.account_id
