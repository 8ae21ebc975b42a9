-- SuiteBilling Usage Records that should exist in NetSuite: one per record of fct_usage_records
-- (usage line, meter and billing period, final or provisional, plus adjustments), keyed by its
-- external ID. Every record is here; one that must not be sent yet says why in
-- sync_blocked_reason (null: send it), and the sync plans it as blocked:
--   * no NetSuite subscription line bills its usage line yet;
--   * provisional: its billing period is not final (not ended before the run date, usage not
--     complete through its end plus finality_grace_days, or a pending amendment touches it).
--     Final records and adjustments (late usage of a final period, a fixed change) are sent;
--   * its usage date falls in a month NetSuite's books do not take: the month's accounting
--     period is closed or locked, or NetSuite holds no accounting period for the month.
-- Several reasons are joined with '; '. The subscription and customer come from NetSuite itself
-- (the subscription line's subscription, that subscription's customer).
{%- set string = api.Column.translate_type('string') %}
with records as (
    select * from {{ ref('fct_usage_records') }}
),

subscription_lines as (
    select * from {{ ref('stg_netsuite__subscription_lines') }}
),

subscriptions as (
    select * from {{ ref('stg_netsuite__subscriptions') }}
),

finality as (
    select * from {{ ref('int_usage_period_finality') }}
),

accounting_periods as (
    select * from {{ ref('int_accounting_periods') }}
),

-- Salesforce holds the subscription line's NetSuite internal ID; until it is written back, the
-- line is found by its external ID in NetSuite (the usage line's key).
located as (
    select
        records.*,
        coalesce(lines_by_id.subscription_line_id, lines_by_key.subscription_line_id) as subscription_line_id
    from records
    left join subscription_lines as lines_by_id
        on records.netsuite_subscription_line_id = lines_by_id.subscription_line_id
    left join subscription_lines as lines_by_key
        on records.line_key = lines_by_key.line_key
),

-- Why a provisional record's period is not final: each condition of int_usage_period_finality
-- that fails (null when it holds). The watermark reads as a date when it is a midnight.
watermark_texts as (
    select
        *,
        case
            when usage_complete_through = cast(cast(usage_complete_through as date) as {{ dbt.type_timestamp() }})
                then {{ dbt.safe_cast("cast(usage_complete_through as date)", string) }}
            else {{ dbt.safe_cast("usage_complete_through", string) }}
        end as usage_complete_through_text
    from finality
),

finality_gaps as (
    select
        line_key,
        billing_period_key,
        case
            when period_end >= {{ as_of_date() }}
                then {{ dbt.concat(["'period not ended before the run date '", dbt.safe_cast(as_of_date(), string)]) }}
        end as not_ended,
        case
            when usage_complete_through is null
                then {{ dbt.concat(["'no usage watermark yet, needs usage complete through '",
                                    dbt.safe_cast("deliveries_counted_through", string)]) }}
            when usage_complete_through < cast(deliveries_counted_through as {{ dbt.type_timestamp() }})
                then {{ dbt.concat(["'usage complete through '", "usage_complete_through_text",
                                    "', needs '", dbt.safe_cast("deliveries_counted_through", string)]) }}
        end as usage_incomplete,
        case
            when has_pending_amendment
                then {{ dbt.concat(["'pending amendment of the line effective by '", dbt.safe_cast("period_end", string)]) }}
        end as amendment_pending
    from watermark_texts
),

assessed as (
    select
        located.external_id,
        subscriptions.customer_id,
        subscription_lines.subscription_id,
        subscription_lines.subscription_line_id,
        located.quantity as usage_quantity,
        located.usage_date,
        case
            when located.usage_status = 'adjustment'
                then {{ dbt.concat([
                    "located.meter_id", "' usage adjustment '", dbt.safe_cast("located.adjustment_sequence", string),
                    "' of billing period '", dbt.safe_cast("located.original_period_start", string),
                    "'..'", dbt.safe_cast("located.original_period_end", string),
                    "', pricing '", "located.pricing_version",
                    "': '", "coalesce(located.adjustment_reason, 'late usage')",
                    "'; booked in billing period '", dbt.safe_cast("located.period_start", string),
                    "'..'", dbt.safe_cast("located.period_end", string)]) }}
            else {{ dbt.concat([
                    "located.meter_id", "' usage, billing period '", dbt.safe_cast("located.period_start", string),
                    "'..'", dbt.safe_cast("located.period_end", string),
                    "', pricing '", "located.pricing_version"]) }}
        end as memo,
        case
            when subscription_lines.subscription_line_id is null
                then {{ dbt.concat(["'no NetSuite subscription line for '", "located.line_key"]) }}
        end as no_line_reason,
        case
            when located.usage_status = 'provisional'
                then {{ dbt.concat([
                    "'billing period '", dbt.safe_cast("located.period_start", string),
                    "'..'", dbt.safe_cast("located.period_end", string), "' not final ('",
                    "substr(" ~ dbt.concat([
                        "coalesce(" ~ dbt.concat(["', '", "finality_gaps.not_ended"]) ~ ", '')",
                        "coalesce(" ~ dbt.concat(["', '", "finality_gaps.usage_incomplete"]) ~ ", '')",
                        "coalesce(" ~ dbt.concat(["', '", "finality_gaps.amendment_pending"]) ~ ", '')"]) ~ ", 3)",
                    "')'"]) }}
        end as not_final_reason,
        case
            when accounting_periods.period_status in ('closed', 'locked')
                then {{ dbt.concat([
                    "'usage date '", dbt.safe_cast("located.usage_date", string),
                    "' falls in NetSuite accounting period '", "accounting_periods.accounting_period",
                    "' (internal id '", "accounting_periods.netsuite_accounting_period_id",
                    "'), which is '", "accounting_periods.period_status"]) }}
            when accounting_periods.period_status is null or accounting_periods.period_status = 'missing'
                then {{ dbt.concat([
                    "'usage date '", dbt.safe_cast("located.usage_date", string),
                    "' falls in '", accounting_period_label("located.usage_date"),
                    "', for which NetSuite has no accounting period'"]) }}
        end as period_reason
    from located
    left join subscription_lines
        on located.subscription_line_id = subscription_lines.subscription_line_id
    left join subscriptions
        on subscription_lines.subscription_id = subscriptions.subscription_id
    left join finality_gaps
        on located.line_key = finality_gaps.line_key
        and located.billing_period_key = finality_gaps.billing_period_key
    left join accounting_periods
        on located.usage_date between accounting_periods.period_start and accounting_periods.period_end
)

select
    external_id,
    customer_id,
    subscription_id,
    subscription_line_id,
    usage_quantity,
    usage_date,
    memo,
    nullif(substr({{ dbt.concat([
        "coalesce(" ~ dbt.concat(["'; '", "no_line_reason"]) ~ ", '')",
        "coalesce(" ~ dbt.concat(["'; '", "not_final_reason"]) ~ ", '')",
        "coalesce(" ~ dbt.concat(["'; '", "period_reason"]) ~ ", '')"]) }}, 3), '') as sync_blocked_reason
from assessed
