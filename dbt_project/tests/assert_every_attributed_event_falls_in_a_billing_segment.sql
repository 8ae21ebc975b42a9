-- Every event attributed to a usage line falls in one of its billing segments: attribution
-- and segmentation agree on the line's term, so no attributed event goes unrated.
select events.event_row_key, events.event_id, events.line_key, events.event_at
from {{ ref('int_usage_events_attributed') }} as events
where events.contract_line_id is not null
    and not exists (
        select 1
        from {{ ref('int_billing_segments') }} as segments
        where segments.contract_line_id = events.contract_line_id
            and {{ dbt.safe_cast('events.event_at', api.Column.translate_type('date')) }}
                between segments.segment_start and segments.segment_end
    )
