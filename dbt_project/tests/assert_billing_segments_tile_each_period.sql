-- The segments of a line's billing period follow each other day after day, from the period's
-- start (or the line's first day) to its end (or the line's last day): no gap, no overlap.
with segments as (
    select
        *,
        lag(segment_end) over (partition by contract_line_id, period_number order by segment_number)
            as previous_segment_end
    from {{ ref('int_billing_segments') }}
)

select *
from segments
where segment_end < segment_start
    or segment_start < period_start
    or segment_end > period_end
    or (segment_number > 1 and segment_start <> cast({{ dbt.dateadd('day', 1, 'previous_segment_end') }} as date))
