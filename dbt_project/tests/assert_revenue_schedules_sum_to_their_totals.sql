-- Every revenue schedule sums exactly to its total (cumulative rounding): for each obligation
-- whose schedule has reached its last month, the recognized amounts add up to the obligation's
-- total and the last recognized-to-date is that total. And per contract line, the schedule's
-- recognized amounts add up to its last recognized-to-date.
with obligations as (
    select
        obligation_key,
        max(obligation_total) as obligation_total,
        sum(recognized) as recognized,
        max(accounting_period_start) as last_month,
        max(service_end) as service_end
    from {{ ref('int_revenue_recognition') }}
    group by obligation_key
),

last_rows as (
    select
        obligation_key,
        recognized_to_date
    from (
        select
            obligation_key,
            recognized_to_date,
            row_number() over (partition by obligation_key order by accounting_period_start desc) as recency_rank
        from {{ ref('int_revenue_recognition') }}
    ) as ranked
    where recency_rank = 1
),

lines as (
    select
        line_key,
        sum(recognized) as recognized,
        max(case when is_last then recognized_to_date end) as recognized_to_date
    from (
        select
            line_key,
            recognized,
            recognized_to_date,
            row_number() over (partition by line_key order by period_start desc) = 1 as is_last
        from {{ ref('fct_revenue_schedule') }}
    ) as schedule
    group by line_key
)

select
    obligations.obligation_key as schedule,
    obligations.obligation_total as expected_total,
    obligations.recognized as recognized_total
from obligations
inner join last_rows
    on obligations.obligation_key = last_rows.obligation_key
where obligations.obligation_total is not null
    and {{ dbt.dateadd('month', 1, 'obligations.last_month') }} > obligations.service_end
    and (obligations.recognized <> obligations.obligation_total
        or last_rows.recognized_to_date <> obligations.obligation_total)
union all
select
    line_key as schedule,
    recognized_to_date as expected_total,
    recognized as recognized_total
from lines
where recognized <> recognized_to_date
