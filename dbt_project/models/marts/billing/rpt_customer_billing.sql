-- What each customer was billed and invoiced per month (issue 9, finance's customer page), in
-- the contract currency: meterledger's invoice lines due by the run date (fct_invoice_lines: the
-- rated usage, and everything else: fees, true-ups, prepaid credit, credit applied) against the
-- invoices NetSuite made (SuiteBilling's bill runs, read back). The month is the invoice date's.
-- A difference is what NetSuite has not invoiced yet, or invoiced otherwise (its own price plans).
with billed as (
    select
        customer_key,
        currency_code,
        cast({{ dbt.date_trunc('month', 'invoice_date') }} as date) as period_start,
        sum(case when invoice_line_kind = 'usage' then amount else 0 end) as usage_billed,
        sum(case when invoice_line_kind <> 'usage' then amount else 0 end) as other_billed,
        sum(amount) as billed,
        count(distinct contract_key) as contracts_billed
    from {{ ref('fct_invoice_lines') }}
    where invoice_date <= {{ as_of_date() }}
    group by 1, 2, 3
),

invoiced as (
    select
        accounts.customer_key,
        contracts.currency_code,
        cast({{ dbt.date_trunc('month', 'invoices.invoice_date') }} as date) as period_start,
        sum(invoices.total_amount) as invoiced,
        count(*) as invoice_count
    from {{ ref('stg_netsuite__invoices') }} as invoices
    inner join {{ ref('stg_salesforce__contracts') }} as contracts
        on invoices.subscription_id = contracts.netsuite_subscription_id
    inner join {{ ref('stg_salesforce__accounts') }} as accounts
        on contracts.account_id = accounts.account_id
    group by 1, 2, 3
),

months as (
    select customer_key, currency_code, period_start from billed
    union
    select customer_key, currency_code, period_start from invoiced
)

select
    {{ dbt.concat(["months.customer_key", "':'", "months.currency_code", "':'", accounting_period_label('months.period_start')]) }}
        as customer_billing_key,
    months.customer_key,
    {{ accounting_period_label('months.period_start') }} as accounting_period,
    months.period_start,
    months.currency_code,
    cast(coalesce(billed.usage_billed, 0) as {{ decimal_type() }}) as usage_billed,
    cast(coalesce(billed.other_billed, 0) as {{ decimal_type() }}) as other_billed,
    cast(coalesce(billed.billed, 0) as {{ decimal_type() }}) as billed,
    cast(coalesce(invoiced.invoiced, 0) as {{ decimal_type() }}) as invoiced,
    cast(coalesce(invoiced.invoice_count, 0) as {{ dbt.type_bigint() }}) as invoice_count,
    cast(coalesce(billed.billed, 0) - coalesce(invoiced.invoiced, 0) as {{ decimal_type() }}) as not_invoiced
from months
left join billed
    on months.customer_key = billed.customer_key
    and months.currency_code = billed.currency_code
    and months.period_start = billed.period_start
left join invoiced
    on months.customer_key = invoiced.customer_key
    and months.currency_code = invoiced.currency_code
    and months.period_start = invoiced.period_start
