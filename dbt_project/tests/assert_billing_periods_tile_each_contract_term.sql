-- Each contract's billing periods cover its term exactly: the first starts on the start date,
-- each next one starts the day after the one before ends, the last ends on the end date.
-- A row here is a contract whose periods leave a gap, overlap, or stop short (for instance a
-- term longer than the period spine reaches).
with periods as (
    select
        periods.contract_id,
        periods.period_number,
        periods.period_start,
        periods.period_end,
        contracts.start_date,
        contracts.end_date,
        lag(periods.period_end) over (partition by periods.contract_id order by periods.period_number)
            as previous_period_end,
        max(periods.period_number) over (partition by periods.contract_id) as last_period_number
    from {{ ref('int_billing_periods') }} as periods
    inner join {{ ref('stg_salesforce__contracts') }} as contracts
        on periods.contract_id = contracts.contract_id
)

select contract_id, period_number, period_start, period_end, start_date, end_date
from periods
where (period_number = 1 and period_start <> start_date)
    or (period_number > 1 and period_start <> cast({{ dbt.dateadd('day', 1, 'previous_period_end') }} as date))
    or (period_number = last_period_number and period_end <> end_date)
    or period_end < period_start

union all

select contracts.contract_id, null, null, null, contracts.start_date, contracts.end_date
from {{ ref('stg_salesforce__contracts') }} as contracts
where not contracts.is_deleted
    and contracts.contract_status = 'Activated'
    and not exists (
        select 1 from {{ ref('int_billing_periods') }} as periods where periods.contract_id = contracts.contract_id
    )
