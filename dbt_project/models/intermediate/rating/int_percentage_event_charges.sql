-- The charge of each usage event of a percentage line (scenario-format.md, "Charge models",
-- `percentage`), at full precision: the billing period's events in time order; the first
-- `free_events` events and the first `free_amount` of amount carry no charge (the allowance
-- ends at whichever runs out first; both are per billing period, not prorated); every other
-- event costs its chargeable amount × rate / 100 + fixed_fee, clamped to
-- [min_per_event, max_per_event] when set. An event partly inside the free amount is charged on
-- the rest of its amount.
-- One row per event and delivery cohort of its period (see int_usage_by_segment): a late event
-- can come first in time order and so change which events the allowance covers.
with events as (
    select * from {{ ref('int_usage_events_segmented') }}
),

lines as (
    select
        contract_line_id,
        rate_percent,
        fixed_fee,
        free_events,
        free_amount,
        min_per_event,
        max_per_event
    from {{ ref('stg_salesforce__contract_lines') }}
    where price_model = 'percentage'
),

versions as (
    select
        line_version_key,
        price_model
    from {{ ref('int_contract_line_versions') }}
),

percentage_events as (
    select
        events.*,
        lines.rate_percent,
        lines.fixed_fee,
        lines.free_events,
        lines.free_amount,
        lines.min_per_event,
        lines.max_per_event
    from events
    inner join versions
        on events.line_version_key = versions.line_version_key
    inner join lines
        on events.contract_line_id = lines.contract_line_id
    where versions.price_model = 'percentage'
),

period_cohorts as (
    select distinct
        contract_line_id,
        billing_period_key,
        delivery_cohort
    from percentage_events
),

-- Cohort c rates the events of cohorts 0..c together, each in its time order among them.
cohort_events as (
    select
        period_cohorts.delivery_cohort as rated_cohort,
        percentage_events.*,
        row_number() over (
            partition by percentage_events.contract_line_id, percentage_events.billing_period_key,
                period_cohorts.delivery_cohort
            order by percentage_events.period_event_order
        ) as event_rank,
        coalesce(sum(coalesce(percentage_events.amount, 0)) over (
            partition by percentage_events.contract_line_id, percentage_events.billing_period_key,
                period_cohorts.delivery_cohort
            order by percentage_events.period_event_order
            rows between unbounded preceding and 1 preceding
        ), 0) as amount_before
    from period_cohorts
    inner join percentage_events
        on period_cohorts.contract_line_id = percentage_events.contract_line_id
        and period_cohorts.billing_period_key = percentage_events.billing_period_key
        and percentage_events.delivery_cohort <= period_cohorts.delivery_cohort
),

allowanced as (
    select
        *,
        case
            when free_events is null and free_amount is null then coalesce(amount, 0)
            when free_events is not null and event_rank > free_events then coalesce(amount, 0)
            when free_amount is null then 0
            when free_amount - amount_before >= coalesce(amount, 0) then 0
            when free_amount - amount_before <= 0 then coalesce(amount, 0)
            else coalesce(amount, 0) - (free_amount - amount_before)
        end as chargeable_amount,
        case
            when free_events is null and free_amount is null then false
            when free_events is not null and event_rank > free_events then false
            when free_amount is null then true
            else free_amount - amount_before >= coalesce(amount, 0)
        end as is_free
    from cohort_events
),

charged as (
    select
        *,
        chargeable_amount * rate_percent * 0.01 + coalesce(fixed_fee, 0) as unclamped_charge
    from allowanced
)

select
    {{ dbt.concat(["event_row_key", "':c'",
                   dbt.safe_cast("rated_cohort", api.Column.translate_type("string"))]) }} as event_charge_key,
    event_row_key,
    rated_cohort,
    delivery_cohort,
    billing_segment_key,
    billing_period_key,
    contract_line_id,
    period_event_order,
    event_date,
    event_rank,
    amount,
    amount_before,
    is_free,
    chargeable_amount,
    -- Every branch at the product's full precision (amount and rate 9 decimals, × 0.01).
    case
        when is_free then cast(0 as {{ decimal_type(38, 20) }})
        when min_per_event is not null and unclamped_charge < min_per_event
            then cast(min_per_event as {{ decimal_type(38, 20) }})
        when max_per_event is not null and unclamped_charge > max_per_event
            then cast(max_per_event as {{ decimal_type(38, 20) }})
        else cast(unclamped_charge as {{ decimal_type(38, 20) }})
    end as charge
from charged
