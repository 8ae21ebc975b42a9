-- SuiteBilling Usage Records of each usage line and billing period (issue 5, "Finality"):
-- the period's first rating (delivery cohort 0), `final` once the period is final and
-- `provisional` until then; and for a final period that received usage late, one `adjustment`
-- per later delivery day: the re-rating with that day's events minus the rating before it,
-- booked in the line's first billing period that is not final (its last period when none is
-- left), keeping the original period.
with charges as (
    select * from {{ ref('int_usage_charges') }}
    where consumed_through is null
),

finality as (
    select * from {{ ref('int_usage_period_finality') }}
),

cohort_ratings as (
    select
        contract_line_id,
        line_key,
        contract_id,
        meter_id,
        billing_period_key,
        period_number,
        period_start,
        period_end,
        delivery_cohort,
        currency_code,
        sum(billable_quantity) as quantity,
        sum(amount) as amount,
        sum(event_count) as event_count,
        {{ dbt.listagg('pricing_version', "','", 'order by segment_number') }} as pricing_version
    from charges
    group by contract_line_id, line_key, contract_id, meter_id, billing_period_key, period_number,
        period_start, period_end, delivery_cohort, currency_code
),

late_deliveries as (
    select
        contract_line_id,
        billing_period_key,
        delivery_cohort,
        min(late_delivery_date) as delivered_on
    from {{ ref('int_usage_daily_placed') }}
    where delivery_cohort > 0
    group by contract_line_id, billing_period_key, delivery_cohort
),

-- Where adjustments are booked: the first period still open, else the line's last period.
booking_periods as (
    select
        contract_line_id,
        coalesce(
            min(case when not is_final then period_number end),
            max(period_number)
        ) as booking_period_number
    from finality
    group by contract_line_id
),

differences as (
    select
        cohort_ratings.*,
        cohort_ratings.quantity - lag(cohort_ratings.quantity) over cohorts as quantity_change,
        cohort_ratings.amount - lag(cohort_ratings.amount) over cohorts as amount_change,
        cohort_ratings.event_count - lag(cohort_ratings.event_count) over cohorts as events_added
    from cohort_ratings
    window cohorts as (
        partition by cohort_ratings.contract_line_id, cohort_ratings.billing_period_key
        order by cohort_ratings.delivery_cohort
    )
),

regular as (
    select
        {{ dbt.concat(["differences.line_key", "':'", "differences.meter_id", "':'",
                       dbt.safe_cast("differences.period_start", api.Column.translate_type("string"))]) }}
            as external_id,
        differences.contract_line_id,
        differences.line_key,
        differences.contract_id,
        differences.meter_id,
        differences.billing_period_key,
        differences.period_start,
        differences.period_end,
        differences.quantity,
        differences.amount,
        differences.currency_code,
        differences.pricing_version,
        case when finality.is_final then 'final' else 'provisional' end as usage_status,
        differences.billing_period_key as original_billing_period_key,
        differences.period_start as original_period_start,
        differences.period_end as original_period_end,
        0 as adjustment_sequence,
        cast(null as {{ dbt.type_string() }}) as adjustment_reason,
        differences.event_count
    from differences
    inner join finality
        on differences.contract_line_id = finality.contract_line_id
        and differences.billing_period_key = finality.billing_period_key
    where differences.delivery_cohort = 0
),

adjustments as (
    select
        {{ dbt.concat(["differences.line_key", "':'", "differences.meter_id", "':'",
                       dbt.safe_cast("differences.period_start", api.Column.translate_type("string")),
                       "':adj'", dbt.safe_cast("differences.delivery_cohort", api.Column.translate_type("string"))]) }}
            as external_id,
        differences.contract_line_id,
        differences.line_key,
        differences.contract_id,
        differences.meter_id,
        booked.billing_period_key,
        booked.period_start,
        booked.period_end,
        differences.quantity_change as quantity,
        differences.amount_change as amount,
        differences.currency_code,
        differences.pricing_version,
        'adjustment' as usage_status,
        differences.billing_period_key as original_billing_period_key,
        differences.period_start as original_period_start,
        differences.period_end as original_period_end,
        differences.delivery_cohort as adjustment_sequence,
        {{ dbt.concat(["'usage delivered on '",
                       dbt.safe_cast("late_deliveries.delivered_on", api.Column.translate_type("string")),
                       "', after the period was final'"]) }} as adjustment_reason,
        differences.events_added as event_count
    from differences
    inner join late_deliveries
        on differences.contract_line_id = late_deliveries.contract_line_id
        and differences.billing_period_key = late_deliveries.billing_period_key
        and differences.delivery_cohort = late_deliveries.delivery_cohort
    inner join booking_periods
        on differences.contract_line_id = booking_periods.contract_line_id
    inner join finality as booked
        on booking_periods.contract_line_id = booked.contract_line_id
        and booking_periods.booking_period_number = booked.period_number
    where differences.delivery_cohort > 0
)

select * from regular
union all
select * from adjustments
