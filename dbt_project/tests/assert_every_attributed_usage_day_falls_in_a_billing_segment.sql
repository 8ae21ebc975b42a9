-- Every day of usage attributed to a usage line falls in one of its billing segments:
-- attribution and segmentation agree on the line's term, so no attributed usage goes unrated.
select daily.usage_day_key, daily.contract_line_id, daily.usage_date
from {{ ref('int_usage_daily_attributed') }} as daily
where not exists (
    select 1
    from {{ ref('int_billing_segments') }} as segments
    where segments.contract_line_id = daily.contract_line_id
        and daily.usage_date between segments.segment_start and segments.segment_end
)
