-- Deferred revenue waterfall: for the deferred balance at the end of each accounting period
-- (the snapshot), the later accounting periods its schedules recognize it in. Per contract
-- line, the balance (billed to date − recognized to date, when positive) is matched first in,
-- first out against the line's recognition in the following periods; what no schedule covers
-- yet (prepaid credits waiting for usage) is in the row with no recognition period. Summed per
-- subsidiary, currency, deferred account and revenue stream. The rows of a snapshot add up to
-- its positive balances.
with schedule as (
    select * from {{ ref('fct_revenue_schedule') }}
),

snapshots as (
    select
        revenue_schedule_key,
        line_key,
        contract_key,
        accounting_period as snapshot_period,
        period_start as snapshot_start,
        deferred_balance,
        recognized_to_date,
        subsidiary_code,
        currency_code,
        deferred_account_role,
        revenue_stream
    from schedule
    where deferred_balance > 0
),

-- Recognition after each snapshot, to date, capped by the snapshot's balance.
matched as (
    select
        snapshots.*,
        later.accounting_period as recognition_period,
        case
            when later.recognized_to_date - snapshots.recognized_to_date > snapshots.deferred_balance
                then snapshots.deferred_balance
            else later.recognized_to_date - snapshots.recognized_to_date
        end as matched_to_date
    from snapshots
    inner join schedule as later
        on snapshots.line_key = later.line_key
        and snapshots.contract_key = later.contract_key
        and later.period_start > snapshots.snapshot_start
),

stepped as (
    select
        *,
        matched_to_date - coalesce(lag(matched_to_date) over (
            partition by revenue_schedule_key
            order by recognition_period
        ), 0) as amount,
        row_number() over (
            partition by revenue_schedule_key
            order by recognition_period desc
        ) as reverse_rank
    from matched
),

scheduled as (
    select
        snapshot_period,
        recognition_period,
        subsidiary_code,
        currency_code,
        deferred_account_role,
        revenue_stream,
        amount
    from stepped
    where amount <> 0
    union all
    select
        snapshots.snapshot_period,
        cast(null as {{ dbt.type_string() }}) as recognition_period,
        snapshots.subsidiary_code,
        snapshots.currency_code,
        snapshots.deferred_account_role,
        snapshots.revenue_stream,
        snapshots.deferred_balance - coalesce(last_match.matched_to_date, 0) as amount
    from snapshots
    left join stepped as last_match
        on snapshots.revenue_schedule_key = last_match.revenue_schedule_key
        and last_match.reverse_rank = 1
    where snapshots.deferred_balance - coalesce(last_match.matched_to_date, 0) <> 0
)

select
    {{ dbt.concat(["snapshot_period", "':'", "coalesce(recognition_period, 'unscheduled')", "':'", "subsidiary_code", "':'",
                   "currency_code", "':'", "deferred_account_role", "':'", "revenue_stream"]) }} as waterfall_key,
    snapshot_period,
    recognition_period,
    subsidiary_code,
    currency_code,
    deferred_account_role,
    revenue_stream,
    cast(sum(amount) as {{ decimal_type() }}) as amount
from scheduled
group by snapshot_period, recognition_period, subsidiary_code, currency_code, deferred_account_role, revenue_stream
