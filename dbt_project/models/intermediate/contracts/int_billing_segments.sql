-- Each billing period of a periodic line (recurring fee, usage, minimum commitment) cut by
-- the line's versions: a segment is the stretch of a period under one version's terms. An
-- amendment effective mid-period makes two segments; a cancelled line has none after it ends.
-- Fees, included quantities and minimums are prorated by days_in_segment / days_in_full_period.
with periodic_versions as (
    select *
    from {{ ref('int_contract_line_versions') }}
    where line_kind in ('recurring_fee', 'usage', 'minimum_commitment')
),

periods as (
    select * from {{ ref('int_billing_periods') }}
),

overlapping as (
    select
        periods.billing_period_key,
        periods.period_number,
        periods.period_start,
        periods.period_end,
        periods.days_in_full_period,
        periodic_versions.line_version_key,
        periodic_versions.contract_line_id,
        periodic_versions.line_key,
        periodic_versions.contract_id,
        periodic_versions.line_kind,
        periodic_versions.version_number,
        greatest(periods.period_start, periodic_versions.effective_from) as segment_start,
        least(periods.period_end, periodic_versions.effective_to) as segment_end
    from periodic_versions
    inner join periods
        on periodic_versions.contract_id = periods.contract_id
        and periodic_versions.effective_from <= periods.period_end
        and periodic_versions.effective_to >= periods.period_start
)

select
    {{ dbt.concat(["line_key", "':'", "cast(period_number as " ~ dbt.type_string() ~ ")", "':'",
                   "cast(version_number as " ~ dbt.type_string() ~ ")"]) }} as billing_segment_key,
    billing_period_key,
    line_version_key,
    contract_line_id,
    line_key,
    contract_id,
    line_kind,
    period_number,
    period_start,
    period_end,
    row_number() over (partition by contract_line_id, period_number order by segment_start) as segment_number,
    segment_start,
    segment_end,
    {{ dbt.datediff('segment_start', 'segment_end', 'day') }} + 1 as days_in_segment,
    days_in_full_period
from overlapping
