-- Usage alerts for customer success: one row per alert raised at the run date (as_of_date()).
--
-- Committed quantity (commit_<percent>): a usage line's included quantity. It is the only
-- contract term that is a quantity per billing period (Included_Quantity__c, "free allowance per
-- full billing period", amendable); a minimum_commitment line is money across lines, not a
-- quantity, and is left out. The committed quantity of a period is the allowance billing gives
-- it (int_usage_charges): included quantity prorated by each segment's days over the full
-- period's, summed over the period's segments, so a partial period or a mid-period amendment
-- commits what it is billed as committing. Percentage-priced lines have no included quantity.
-- The period is the line's billing period holding the run date (the latest started that has not
-- ended before it); its usage is every event delivered so far (the newest delivery cohort).
-- A line raises the highest threshold of var('usage_alert_commit_thresholds') its usage has
-- reached (used >= threshold x committed, exact): 0.8 -> commit_80, 1.0 -> commit_100.
--
-- Prepaid credit run-out (credit_runout): per block bought by the run date, not expired, with a
-- balance left (int_credit_block_balances). Its burn
-- rate is what the block paid (int_credit_drawdown) for usage on the
-- var('credit_burn_lookback_days') days before the run date, per day; no burn, no alert.
-- Days to run-out = floor(remaining / daily burn): the day the balance is projected to reach 0
-- is run date + days. The block alerts when that date falls within
-- var('credit_runout_horizon_days') of the run date and on or before its expiry date. A block
-- that expires before it would run out raises no alert: its coverage ends by expiry, its rest
-- becomes breakage, and Credit_Balance__c.Expires_On__c already shows that date. The burn is
-- the block's own draw: a block drawn after another (blocks go in expiry order) burns nothing
-- until the first is used up.
{%- set thresholds = var('usage_alert_commit_thresholds') | sort %}
{%- set lookback_days = var('credit_burn_lookback_days') %}
{%- set horizon_days = var('credit_runout_horizon_days') %}
with contracts as (
    select * from {{ ref('int_contracts') }}
),

current_usage as (
    select *
    from {{ ref('int_usage_charges') }}
    where consumed_through is null
        and period_start <= {{ as_of_date() }}
        and period_end >= {{ as_of_date() }}
),

newest_cohorts as (
    select
        contract_line_id,
        billing_period_key,
        max(delivery_cohort) as delivery_cohort
    from current_usage
    group by contract_line_id, billing_period_key
),

period_usage as (
    select
        current_usage.contract_line_id,
        current_usage.line_key,
        current_usage.contract_id,
        current_usage.meter_id,
        current_usage.billing_period_key,
        min(current_usage.period_start) as period_start,
        max(current_usage.period_end) as period_end,
        sum(current_usage.quantity) as quantity_used,
        sum(current_usage.included_quantity) as committed_quantity
    from current_usage
    inner join newest_cohorts
        on current_usage.contract_line_id = newest_cohorts.contract_line_id
        and current_usage.billing_period_key = newest_cohorts.billing_period_key
        and current_usage.delivery_cohort = newest_cohorts.delivery_cohort
    group by
        current_usage.contract_line_id, current_usage.line_key, current_usage.contract_id,
        current_usage.meter_id, current_usage.billing_period_key
),

thresholds as (
{%- for threshold in thresholds %}
    select
        cast({{ threshold }} as {{ decimal_type() }}) as threshold,
        'commit_{{ "%g" | format(threshold * 100) }}' as alert_type
    {% if not loop.last %}union all{% endif %}
{%- endfor %}
),

commitments_reached as (
    select
        period_usage.*,
        thresholds.threshold,
        thresholds.alert_type,
        row_number() over (
            partition by period_usage.contract_line_id, period_usage.billing_period_key
            order by thresholds.threshold desc
        ) as threshold_rank
    from period_usage
    inner join thresholds
        on period_usage.quantity_used >= period_usage.committed_quantity * thresholds.threshold
    where period_usage.committed_quantity > 0
),

commit_alerts as (
    select
        {{ dbt.concat(["'commit:'", "commitments_reached.line_key", "':'",
                       dbt.safe_cast("commitments_reached.period_start", api.Column.translate_type("string"))]) }}
            as alert_key,
        commitments_reached.alert_type,
        commitments_reached.contract_id,
        commitments_reached.line_key,
        cast(null as {{ dbt.type_string() }}) as credit_block_id,
        commitments_reached.meter_id,
        commitments_reached.period_start,
        commitments_reached.period_end,
        commitments_reached.quantity_used,
        commitments_reached.committed_quantity,
        {{ floor_ratio('commitments_reached.quantity_used', 'commitments_reached.committed_quantity', 4) }}
            as share_used,
        commitments_reached.threshold,
        cast(null as {{ decimal_type() }}) as credit_remaining,
        cast(null as {{ decimal_type() }}) as credit_drawn_in_lookback,
        cast(null as {{ decimal_type() }}) as daily_burn,
        cast(null as {{ dbt.type_int() }}) as days_to_runout,
        cast(null as date) as projected_runout_date,
        cast(null as date) as expires_on
    from commitments_reached
    where commitments_reached.threshold_rank = 1
),

blocks as (
    select *
    from {{ ref('int_credit_block_balances') }}
    where expiry_date >= {{ as_of_date() }}
),

burned as (
    select
        credit_line_id,
        sum(applied) as drawn_in_lookback
    from {{ ref('int_credit_drawdown') }}
    where event_date >= cast({{ dbt.dateadd('day', -lookback_days, as_of_date()) }} as date)
        and event_date < {{ as_of_date() }}
    group by credit_line_id
),

burning_blocks as (
    select
        blocks.*,
        blocks.remaining_amount as credit_remaining,
        burned.drawn_in_lookback,
        cast({{ floor_ratio('blocks.remaining_amount * ' ~ lookback_days, 'burned.drawn_in_lookback') }}
            as {{ dbt.type_bigint() }}) as days_to_runout
    from blocks
    inner join burned
        on blocks.credit_line_id = burned.credit_line_id
    where burned.drawn_in_lookback > 0
        and blocks.remaining_amount > 0
),

-- Only blocks inside the horizon get a date: a block barely drawn could be millennia away.
runout_blocks as (
    select
        *,
        cast({{ dbt.dateadd('day', 'days_to_runout', as_of_date()) }} as date) as projected_runout_date
    from burning_blocks
    where days_to_runout <= {{ horizon_days }}
),

credit_alerts as (
    select
        {{ dbt.concat(["'credit_runout:'", "credit_line_key"]) }} as alert_key,
        'credit_runout' as alert_type,
        contract_id,
        credit_line_key as line_key,
        credit_line_key as credit_block_id,
        cast(null as {{ dbt.type_string() }}) as meter_id,
        cast(null as date) as period_start,
        cast(null as date) as period_end,
        cast(null as {{ decimal_type() }}) as quantity_used,
        cast(null as {{ decimal_type() }}) as committed_quantity,
        cast(null as {{ decimal_type() }}) as share_used,
        cast(null as {{ decimal_type() }}) as threshold,
        credit_remaining,
        drawn_in_lookback as credit_drawn_in_lookback,
        {{ prorate('drawn_in_lookback', 1, lookback_days, 9) }} as daily_burn,
        cast(days_to_runout as {{ dbt.type_int() }}) as days_to_runout,
        projected_runout_date,
        expiry_date as expires_on
    from runout_blocks
    where projected_runout_date <= expiry_date
),

alerts as (
    select * from commit_alerts
    union all
    select * from credit_alerts
)

select
    alerts.alert_key,
    alerts.alert_type,
    contracts.account_id,
    contracts.customer_key,
    alerts.contract_id,
    contracts.contract_key,
    alerts.line_key,
    alerts.credit_block_id,
    alerts.meter_id,
    alerts.period_start,
    alerts.period_end,
    cast(alerts.quantity_used as {{ decimal_type() }}) as quantity_used,
    cast(alerts.committed_quantity as {{ decimal_type() }}) as committed_quantity,
    cast(alerts.share_used as {{ decimal_type() }}) as share_used,
    cast(alerts.threshold as {{ decimal_type() }}) as threshold,
    cast(alerts.credit_remaining as {{ decimal_type() }}) as credit_remaining,
    cast(alerts.credit_drawn_in_lookback as {{ decimal_type() }}) as credit_drawn_in_lookback,
    cast(alerts.daily_burn as {{ decimal_type() }}) as daily_burn,
    alerts.days_to_runout,
    alerts.projected_runout_date,
    alerts.expires_on,
    contracts.currency_code,
    case
        when alerts.alert_type = 'credit_runout' then {{ dbt.concat([
            "'Prepaid credit '", "alerts.line_key", "' has '",
            money_text('alerts.credit_remaining', 'contracts.minor_units'), "' '", "contracts.currency_code",
            "' left; at '", money_text('alerts.daily_burn', 'contracts.minor_units'), "' '", "contracts.currency_code",
            "' a day (average of the last " ~ lookback_days ~ " days) it runs out on '",
            dbt.safe_cast("alerts.projected_runout_date", api.Column.translate_type("string")),
            "', before it expires on '",
            dbt.safe_cast("alerts.expires_on", api.Column.translate_type("string")), "'.'"]) }}
        else {{ dbt.concat([
            "alerts.line_key", "' ('", "alerts.meter_id", "') has used '",
            decimal_text('round(alerts.quantity_used, 2)'), "' of its '",
            decimal_text('round(alerts.committed_quantity, 2)'),
            "' committed units ('", decimal_text('alerts.share_used * 100'), "'%) in the billing period '",
            dbt.safe_cast("alerts.period_start", api.Column.translate_type("string")), "' to '",
            dbt.safe_cast("alerts.period_end", api.Column.translate_type("string")), "'.'"]) }}
    end as alert_message,
    {{ as_of_date() }} as as_of
from alerts
inner join contracts
    on alerts.contract_id = contracts.contract_id
