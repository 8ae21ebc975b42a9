-- The valid events of the usage lines whose charges are computed event by event: percentage
-- pricing (each event's fee, allowances in time order) and lines a prepaid credit pays (drawdown
-- in event order). Rating reads daily rollups (int_usage_daily) and needs no event; these do.
-- Each event is matched to the usage line that bills it: same customer, same meter, event date
-- inside the line's term (the contract's, ended early by a cancellation; an event after it has
-- no line). Where two lines could bill an event, the contract that started first wins.
with usage_lines as (
    select * from {{ ref('int_usage_lines') }}
),

per_event_lines as (
    select contract_line_id from {{ ref('int_contract_line_versions') }} where price_model = 'percentage'
    union
    select usage_line_id as contract_line_id from {{ ref('int_prepaid_credit_blocks') }}
),

-- Only the customers and meters of such lines are read.
events as (
    select events.*
    from {{ ref('int_usage_events_valid') }} as events
    where exists (
        select 1
        from usage_lines
        inner join per_event_lines
            on usage_lines.contract_line_id = per_event_lines.contract_line_id
        where usage_lines.customer_key = events.customer_key
            and usage_lines.meter_id = events.meter_id
    )
),

matched as (
    select
        events.event_row_key,
        usage_lines.contract_line_id,
        row_number() over (
            partition by events.event_row_key
            order by usage_lines.line_start, usage_lines.line_key
        ) as match_rank
    from events
    inner join usage_lines
        on events.customer_key = usage_lines.customer_key
        and events.meter_id = usage_lines.meter_id
        and {{ dbt.safe_cast('events.event_at', api.Column.translate_type('date')) }}
            between usage_lines.line_start and usage_lines.line_end
)

select
    events.event_row_key,
    events.event_id,
    events.customer_key,
    events.meter_id,
    events.quantity,
    events.amount,
    events.event_at,
    events.properties,
    events.is_late_arrival,
    events.delivered_on,
    events.usage_source,
    events.file_name,
    events.file_row,
    events.load_id,
    usage_lines.account_id,
    usage_lines.contract_id,
    usage_lines.contract_key,
    usage_lines.contract_line_id,
    usage_lines.line_key,
    usage_lines.currency_code,
    usage_lines.netsuite_subscription_line_id
from events
left join matched
    on events.event_row_key = matched.event_row_key and matched.match_rank = 1
left join usage_lines
    on matched.contract_line_id = usage_lines.contract_line_id
