-- Whether each usage line's billing period is final at the run date (issue 5, "Finality"): the
-- period has ended, every usage source's watermark has passed its end plus the grace, and no
-- pending amendment of the line takes effect in it or before. A final period's usage record is
-- fixed with the events delivered by `deliveries_counted_through`; events delivered later
-- become adjustment records.
with line_periods as (
    select
        contract_line_id,
        line_key,
        contract_id,
        billing_period_key,
        period_number,
        min(period_start) as period_start,
        max(period_end) as period_end
    from {{ ref('int_billing_segments') }}
    where line_kind = 'usage'
    group by contract_line_id, line_key, contract_id, billing_period_key, period_number
),

watermark as (
    {{ usage_complete_through() }}
),

pending_amendments as (
    select
        contract_line_id,
        min(effective_date) as first_pending_effective_date
    from {{ ref('stg_salesforce__amendments') }}
    where amendment_status = 'Pending'
        and not is_deleted
    group by contract_line_id
),

assessed as (
    select
        line_periods.*,
        cast({{ dbt.dateadd('day', 1 + var('finality_grace_days'), 'line_periods.period_end') }} as date)
            as usage_complete_needed_by,
        watermark.complete_through as usage_complete_through,
        pending_amendments.first_pending_effective_date <= line_periods.period_end as has_pending_amendment
    from line_periods
    cross join watermark
    left join pending_amendments
        on line_periods.contract_line_id = pending_amendments.contract_line_id
)

select
    contract_line_id,
    line_key,
    contract_id,
    billing_period_key,
    period_number,
    period_start,
    period_end,
    usage_complete_through,
    coalesce(has_pending_amendment, false) as has_pending_amendment,
    period_end < {{ as_of_date() }}
        and coalesce(usage_complete_through >= cast(usage_complete_needed_by as timestamp), false)
        and not coalesce(has_pending_amendment, false) as is_final,
    -- Deliveries up to the day the watermark had to reach make the final record.
    usage_complete_needed_by as deliveries_counted_through
from assessed
