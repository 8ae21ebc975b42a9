-- Billing periods of each contract (scenario-format.md, "Dates and days"): monthly, quarterly
-- or annual steps from the anchor; the first and last periods may be partial, and each period
-- keeps the full billing period it belongs to, whose days are the denominator of proration.
with contracts as (
    select
        contract_id,
        contract_key,
        start_date,
        end_date,
        billing_frequency,
        billing_anchor
    from {{ ref('stg_salesforce__contracts') }}
    -- A draft contract is not sold yet: it bills nothing.
    where not is_deleted
        and contract_status = 'Activated'
),

cadenced as (
    select
        *,
        case billing_frequency
            when 'monthly' then 1
            when 'quarterly' then 3
            when 'annual' then 12
        end as months_per_period,
        -- Period k starts k steps after the anchor, always counted from the anchor itself:
        -- adding months clamps to the month's last day (Jan 31 + 1 month = Feb 28/29) while
        -- Jan 31 + 2 months is still Mar 31, which is the rule. Calendar anchoring steps from
        -- the calendar month, quarter or year holding the start date.
        case
            when billing_anchor = 'start' then start_date
            when billing_anchor = 'calendar' and billing_frequency = 'monthly'
                then cast({{ dbt.date_trunc('month', 'start_date') }} as date)
            when billing_anchor = 'calendar' and billing_frequency = 'quarterly'
                then cast({{ dbt.date_trunc('quarter', 'start_date') }} as date)
            when billing_anchor = 'calendar' and billing_frequency = 'annual'
                then cast({{ dbt.date_trunc('year', 'start_date') }} as date)
        end as anchor_date
    from contracts
),

steps as (
    {{ integer_spine(3) }}
),

full_periods as (
    select
        cadenced.contract_id,
        cadenced.contract_key,
        cadenced.start_date,
        cadenced.end_date,
        cadenced.billing_frequency,
        cadenced.billing_anchor,
        steps.number + 1 as period_number,
        cast({{ dbt.dateadd('month', 'steps.number * cadenced.months_per_period', 'cadenced.anchor_date') }} as date)
            as full_period_start,
        cast({{ dbt.dateadd('month', '(steps.number + 1) * cadenced.months_per_period', 'cadenced.anchor_date') }} as date)
            as next_full_period_start
    from cadenced
    cross join steps
    where cadenced.months_per_period is not null
        and cadenced.anchor_date is not null
),

bounded as (
    select
        *,
        cast({{ dbt.dateadd('day', -1, 'next_full_period_start') }} as date) as full_period_end
    from full_periods
    where full_period_start <= end_date
)

select
    {{ dbt.concat(["contract_id", "':'", "cast(period_number as " ~ dbt.type_string() ~ ")"]) }} as billing_period_key,
    contract_id,
    contract_key,
    period_number,
    billing_frequency,
    billing_anchor,
    greatest(full_period_start, start_date) as period_start,
    least(full_period_end, end_date) as period_end,
    full_period_start,
    full_period_end,
    {{ dbt.datediff('greatest(full_period_start, start_date)', 'least(full_period_end, end_date)', 'day') }} + 1
        as days_in_period,
    {{ dbt.datediff('full_period_start', 'full_period_end', 'day') }} + 1 as days_in_full_period,
    full_period_start < start_date or full_period_end > end_date as is_partial
from bounded
