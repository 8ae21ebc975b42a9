-- The period-close signal the orchestrator watches: one row per billing period (its first and
-- last day; anniversary billing gives many), with how many usage lines bill in it and whether
-- it is closed. A billing period closes once every usage line billed in it is final
-- (int_usage_period_finality: ended before the run date, every usage source's watermark past
-- its end plus the grace, no pending amendment touching it) and NetSuite's accounting period
-- holding its last day is open to take the usage records (a closed or missing one holds the
-- posting back until finance opens it; late usage then becomes adjustments).
with finality as (
    select * from {{ ref('int_usage_period_finality') }}
),

accounting_periods as (
    select * from {{ ref('int_accounting_periods') }}
),

periods as (
    select
        period_start,
        period_end,
        count(*) as usage_lines,
        sum(case when is_final then 1 else 0 end) as final_lines,
        sum(case when has_pending_amendment then 1 else 0 end) as lines_with_pending_amendment,
        min(usage_complete_through) as usage_complete_through,
        max(deliveries_counted_through) as usage_complete_needed_by
    from finality
    group by period_start, period_end
)

select
    {{ dbt.concat([dbt.safe_cast("periods.period_start", api.Column.translate_type("string")), "'..'",
                   dbt.safe_cast("periods.period_end", api.Column.translate_type("string"))]) }} as billing_period,
    periods.period_start,
    periods.period_end,
    cast(periods.usage_lines as {{ dbt.type_int() }}) as usage_lines,
    cast(periods.final_lines as {{ dbt.type_int() }}) as final_lines,
    cast(periods.lines_with_pending_amendment as {{ dbt.type_int() }}) as lines_with_pending_amendment,
    periods.usage_complete_through,
    periods.usage_complete_needed_by,
    accounting_periods.accounting_period,
    coalesce(accounting_periods.period_status, 'missing') as netsuite_period_status,
    periods.final_lines = periods.usage_lines as is_final,
    periods.final_lines = periods.usage_lines and coalesce(accounting_periods.is_open, false) as is_closed,
    case
        when periods.period_end >= {{ as_of_date() }} then 'not ended before the run date'
        when periods.lines_with_pending_amendment > 0 then 'a pending amendment touches a line'
        when periods.final_lines < periods.usage_lines then 'usage not complete through the period end plus the grace'
        when not coalesce(accounting_periods.is_open, false)
            then {{ dbt.concat(["'NetSuite accounting period '",
                                "coalesce(accounting_periods.accounting_period, 'of the last day')",
                                "' is '", "coalesce(accounting_periods.period_status, 'missing')"]) }}
    end as not_closed_reason
from periods
left join accounting_periods
    on periods.period_end between accounting_periods.period_start and accounting_periods.period_end
