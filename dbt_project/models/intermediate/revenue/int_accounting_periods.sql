-- Accounting periods: calendar months (scenario-format.md, "Revenue recognition"), from the
-- first month any contract touches through the last, each with NetSuite's state of it and
-- where an entry that belongs to it posts (ARCHITECTURE.md, "Period close and finality"):
-- itself while open, otherwise the first open NetSuite period after it. A month NetSuite does
-- not hold (before its first period) cannot take postings either.
-- A month is complete once it has ended before the run date and every usage source's watermark
-- has passed its end plus the finality grace: its as-consumed revenue is then known, and its
-- journal entries can be built.
with contract_days as (
    select
        min(start_date) as first_day,
        max(end_date) as last_day
    from {{ ref('stg_salesforce__contracts') }}
    where contract_status = 'Activated'
        and not is_deleted
),

line_days as (
    select
        min(case when line_kind = 'one_time' then charge_date else purchase_date end) as first_day,
        max(expiry_date) as last_day
    from {{ ref('stg_salesforce__contract_lines') }}
    where not is_deleted
        and line_kind in ('one_time', 'prepaid_credit')
),

bounds as (
    select
        {{ dbt.date_trunc('month', 'least(coalesce(line_days.first_day, contract_days.first_day), contract_days.first_day)') }}
            as first_month,
        {{ dbt.date_trunc('month', 'greatest(coalesce(line_days.last_day, contract_days.last_day), contract_days.last_day, ' ~ as_of_date() ~ ')') }}
            as last_month
    from contract_days
    cross join line_days
),

months as (
    select
        cast({{ dbt.dateadd('month', 'offsets.number', 'bounds.first_month') }} as date) as period_start
    from bounds
    cross join ({{ integer_spine(3) }}) as offsets
    where {{ dbt.dateadd('month', 'offsets.number', 'bounds.first_month') }} <= bounds.last_month
),

netsuite_periods as (
    select *
    from {{ ref('stg_netsuite__accounting_periods') }}
    where not is_quarter
        and not is_year
),

open_periods as (
    select
        accounting_period_id,
        start_date,
        end_date
    from netsuite_periods
    where period_status = 'open'
),

first_open as (
    select
        months.period_start,
        min(open_periods.start_date) as posting_period_start
    from months
    inner join open_periods
        on open_periods.start_date >= months.period_start
    group by months.period_start
),

watermark as (
    {{ usage_complete_through() }}
),

described as (
    select
        months.period_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'months.period_start')) }} as date) as period_end,
        netsuite_periods.accounting_period_id as netsuite_accounting_period_id,
        coalesce(netsuite_periods.period_status, 'missing') as period_status,
        first_open.posting_period_start,
        watermark.complete_through as usage_complete_through
    from months
    left join netsuite_periods
        on months.period_start = netsuite_periods.start_date
    left join first_open
        on months.period_start = first_open.period_start
    cross join watermark
)

select
    {{ accounting_period_label('described.period_start') }} as accounting_period,
    described.period_start,
    described.period_end,
    described.netsuite_accounting_period_id,
    described.period_status,
    described.period_status = 'open' as is_open,
    {{ accounting_period_label('posting.start_date') }} as posting_period,
    posting.start_date as posting_period_start,
    posting.end_date as posting_period_end,
    posting.accounting_period_id as posting_netsuite_accounting_period_id,
    described.period_end < {{ as_of_date() }}
        and coalesce(described.usage_complete_through
            >= cast({{ dbt.dateadd('day', 1 + var('finality_grace_days'), 'described.period_end') }} as {{ dbt.type_timestamp() }}), false)
        as is_complete
from described
left join open_periods as posting
    on described.posting_period_start = posting.start_date
