-- Each daily usage rollup matched to the usage line that bills it, as int_usage_events_attributed
-- matches an event (attribution depends only on customer, meter and day): the contract that
-- started first wins where two lines could bill the day. Rollups no line bills are left out.
-- A view: rating reads it once, and a change of contract terms is seen on the next read.
{{ config(materialized="view") }}

with daily as (
    select * from {{ ref('int_usage_daily') }}
    where customer_key is not null
),

matched as (
    select
        daily.usage_day_key,
        usage_lines.contract_line_id,
        row_number() over (
            partition by daily.usage_day_key
            order by usage_lines.line_start, usage_lines.line_key
        ) as match_rank
    from daily
    inner join {{ ref('int_usage_lines') }} as usage_lines
        on daily.customer_key = usage_lines.customer_key
        and daily.meter_id = usage_lines.meter_id
        and daily.usage_date between usage_lines.line_start and usage_lines.line_end
)

select
    daily.*,
    matched.contract_line_id
from daily
inner join matched
    on daily.usage_day_key = matched.usage_day_key
    and matched.match_rank = 1
