-- Valid events matched to the usage contract line that bills them: same customer, same meter,
-- event date inside the line's term (the contract's, ended early by a cancellation; an event
-- after it has no line and is quarantined as no_billable_line). Where two lines could bill an event, the contract that
-- started first wins so the answer is deterministic.
with events as (
    select * from {{ ref('stg_usage__events') }}
),

line_terms as (
    select
        contract_line_id,
        min(effective_from) as line_start,
        max(effective_to) as line_end
    from {{ ref('int_contract_line_versions') }}
    group by contract_line_id
),

usage_lines as (
    select
        accounts.customer_key,
        accounts.account_id,
        contracts.contract_id,
        contracts.contract_key,
        contracts.currency_code,
        line_terms.line_start,
        line_terms.line_end,
        lines.contract_line_id,
        lines.line_key,
        lines.meter_id,
        lines.netsuite_subscription_line_id
    from {{ ref('stg_salesforce__contract_lines') }} as lines
    inner join {{ ref('stg_salesforce__contracts') }} as contracts
        on lines.contract_id = contracts.contract_id
    inner join {{ ref('stg_salesforce__accounts') }} as accounts
        on contracts.account_id = accounts.account_id
    inner join line_terms
        on lines.contract_line_id = line_terms.contract_line_id
    where lines.line_kind = 'usage'
        and not lines.is_deleted
        and not contracts.is_deleted
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
