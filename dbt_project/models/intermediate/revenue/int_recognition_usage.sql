-- Usage revenue per usage line, billing period and accounting period (scenario-format.md,
-- "Revenue recognition", as_consumed): recognized through an accounting period's end = the
-- rated amount of the usage consumed so far in the billing period (int_usage_charges' rating
-- of the consumption cut at that month end), and in the billing period's last accounting
-- period the rest, so the total is the period's rated amount. Usage is rated as currently
-- known: the newest delivery cohort, late usage included, in the month it was consumed.
-- What prepaid credits paid is recognized out of the prepaid credit account, as the block's
-- drawdown (int_recognition_prepaid_credits); this schedule is the rest, the part billed to the
-- customer: gross to date minus drawdown to date.
with charges as (
    select *
    from {{ ref('int_usage_charges') }}
    where segment_start <= {{ as_of_date() }}
),

newest_cohorts as (
    select
        contract_line_id,
        billing_period_key,
        max(delivery_cohort) as delivery_cohort
    from charges
    where consumed_through is null
    group by contract_line_id, billing_period_key
),

period_totals as (
    select
        charges.contract_line_id,
        charges.contract_id,
        charges.billing_period_key,
        min(charges.period_start) as period_start,
        max(charges.period_end) as period_end,
        sum(charges.amount) as gross_amount
    from charges
    inner join newest_cohorts
        on charges.contract_line_id = newest_cohorts.contract_line_id
        and charges.billing_period_key = newest_cohorts.billing_period_key
        and charges.delivery_cohort = newest_cohorts.delivery_cohort
    where charges.consumed_through is null
    group by charges.contract_line_id, charges.contract_id, charges.billing_period_key
),

consumed_to_month_end as (
    select
        contract_line_id,
        billing_period_key,
        consumed_through,
        sum(amount) as gross_to_date
    from charges
    where consumed_through is not null
    group by contract_line_id, billing_period_key, consumed_through
),

drawdown_obligations as (
    select *
    from {{ ref('int_recognition_prepaid_credits') }}
    where obligation_kind = 'credit_drawdown'
),

drawdown as (
    select
        usage_line_id,
        billing_period_key,
        accounting_period_start,
        sum(recognized_to_date) as drawdown_to_date
    from drawdown_obligations
    group by usage_line_id, billing_period_key, accounting_period_start
),

-- One total per drawdown obligation (its rows repeat it every month).
drawdown_totals as (
    select
        usage_line_id,
        billing_period_key,
        sum(obligation_total) as drawdown_total
    from (
        select distinct
            obligation_key,
            usage_line_id,
            billing_period_key,
            obligation_total
        from drawdown_obligations
    ) as obligations
    group by usage_line_id, billing_period_key
),

months as (
    select
        period_start,
        period_end
    from {{ ref('int_accounting_periods') }}
),

scheduled as (
    select
        period_totals.*,
        months.period_start as accounting_period_start,
        case
            when months.period_end >= period_totals.period_end then period_totals.gross_amount
            else coalesce(consumed_to_month_end.gross_to_date, 0)
        end as gross_to_date
    from period_totals
    inner join months
        on months.period_end >= period_totals.period_start
        and months.period_start <= period_totals.period_end
    left join consumed_to_month_end
        on period_totals.contract_line_id = consumed_to_month_end.contract_line_id
        and period_totals.billing_period_key = consumed_to_month_end.billing_period_key
        and months.period_end = consumed_to_month_end.consumed_through
)

select
    {{ dbt.concat(["'usage:'", "scheduled.contract_line_id", "':'", "scheduled.billing_period_key"]) }} as obligation_key,
    'usage' as obligation_kind,
    scheduled.contract_line_id,
    scheduled.contract_id,
    cast(null as {{ dbt.type_string() }}) as credit_line_id,
    scheduled.contract_line_id as usage_line_id,
    scheduled.billing_period_key,
    scheduled.accounting_period_start,
    scheduled.period_start as service_start,
    scheduled.period_end as service_end,
    cast(scheduled.gross_amount - coalesce(totals.drawdown_total, 0) as {{ decimal_type() }}) as obligation_total,
    cast(scheduled.gross_to_date - coalesce(drawdown.drawdown_to_date, 0) as {{ decimal_type() }}) as recognized_to_date,
    currencies.currency_code
from scheduled
inner join {{ ref('int_contract_currencies') }} as currencies
    on scheduled.contract_id = currencies.contract_id
left join drawdown
    on scheduled.contract_line_id = drawdown.usage_line_id
    and scheduled.billing_period_key = drawdown.billing_period_key
    and scheduled.accounting_period_start = drawdown.accounting_period_start
left join drawdown_totals as totals
    on scheduled.contract_line_id = totals.usage_line_id
    and scheduled.billing_period_key = totals.billing_period_key
