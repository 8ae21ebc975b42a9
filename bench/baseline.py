"""The baseline the dbt build is measured against: one hand-written DuckDB query over the raw
Parquet files that dedups the events on their ID, attributes them to the usage line and billing
segment that bills them, aggregates each segment the way its meter says, and rates it with a join
on the line's price tiers (unit, package, graduated, graduated percentage, volume; percentage
lines event by event, in time order, with their free allowances).

The contract side is taken as given: ``CONTRACT_TABLES`` copies, unmeasured, the usage segments
(line terms cut by billing period and amendment), price tiers and meters that the dbt stage built
from the same Salesforce load, a few hundred thousand rows at most. Deriving billing periods and
amendment versions again by hand would test nothing about events; the query does all the
per-event work (read, parse, dedup, attribute, aggregate, rate) the dbt path does on them.

Where it is simpler than the dbt path, knowingly: a segment's tier position starts at 0 (the
workload is one day, so earlier segments of a period hold no events); segments without events
are not rated (the dbt path rates them at quantity 0: a graduated line's first flat fee); no
quarantine reasons are kept, invalid rows are only left out. The comparison therefore matches
the dbt path's records of the periods holding the workload's day that have events.
"""
from __future__ import annotations

# Unmeasured: what the baseline reads of the contracts, from the dbt stage's warehouse
# (attached as ``built``) into the baseline's own database. One row per usage segment, with
# everything the rating needs, and the span of days in which the segment's line wins an event:
# where two lines of one customer and meter overlap, the one that started first (then the
# lower line key) bills the event, as int_usage_events_attributed decides.
CONTRACT_TABLES = """
create table usage_segments as
with lines as (
    select
        lines.contract_line_id, lines.contract_id, accounts.customer_key, lines.meter_id,
        lines.package_size, lines.package_price, coalesce(lines.free_units, 0) as free_units,
        lines.rate_percent, lines.fixed_fee, lines.free_events, lines.free_amount,
        lines.min_per_event, lines.max_per_event
    from built.staging.stg_salesforce__contract_lines as lines
    inner join built.staging.stg_salesforce__contracts as contracts
        on lines.contract_id = contracts.contract_id
    inner join built.staging.stg_salesforce__accounts as accounts
        on contracts.account_id = accounts.account_id
    where lines.line_kind = 'usage' and not lines.is_deleted and not contracts.is_deleted
),
terms as (
    select versions.contract_line_id, any_value(versions.line_key) as line_key,
        min(versions.effective_from) as line_start, max(versions.effective_to) as line_end
    from built.intermediate.int_contract_line_versions as versions
    inner join lines on versions.contract_line_id = lines.contract_line_id
    group by versions.contract_line_id
),
ranked as (
    select terms.*, lines.customer_key, lines.meter_id,
        max(terms.line_end) over (
            partition by lines.customer_key, lines.meter_id order by terms.line_start, terms.line_key
            rows between unbounded preceding and 1 preceding) as earlier_lines_end
    from terms
    inner join lines on terms.contract_line_id = lines.contract_line_id
),
winning as (
    select contract_line_id,
        case when earlier_lines_end >= line_start then earlier_lines_end + 1 else line_start end as wins_from
    from ranked
)
select
    segments.billing_segment_key, segments.billing_period_key, segments.contract_line_id,
    segments.line_key, segments.period_start, segments.period_end, segments.segment_number,
    greatest(segments.segment_start, winning.wins_from) as attributed_from,
    segments.segment_end as attributed_through,
    segments.days_in_segment, segments.days_in_full_period, segments.line_version_key,
    lines.customer_key, lines.meter_id, meters.aggregation, meters.property,
    versions.price_model, versions.unit_price, coalesce(versions.included_quantity, 0) as included_quantity,
    lines.package_size, lines.package_price, lines.free_units, lines.rate_percent, lines.fixed_fee,
    lines.free_events, lines.free_amount, lines.min_per_event, lines.max_per_event,
    currencies.currency_code, currencies.minor_units
from built.intermediate.int_billing_segments as segments
inner join lines on segments.contract_line_id = lines.contract_line_id
inner join winning on segments.contract_line_id = winning.contract_line_id
inner join built.intermediate.int_contract_line_versions as versions
    on segments.line_version_key = versions.line_version_key
inner join built.reference.meters as meters on lines.meter_id = meters.meter_id
inner join built.intermediate.int_contract_currencies as currencies
    on segments.contract_id = currencies.contract_id
where segments.line_kind = 'usage'
    and greatest(segments.segment_start, winning.wins_from) <= segments.segment_end;

create table price_tiers as
select line_version_key, tier_number, lower_bound, upper_bound, unit_price, flat_fee
from built.intermediate.int_price_tiers;
"""


def baseline_query(files: list[str]) -> str:
    """The measured query: raw Parquet files in, one rated row per usage segment with events out.
    Money stays DECIMAL(38, 9) (products at full precision) until the one rounding to the
    currency's minor units, as the dbt path rounds."""
    listed = ", ".join("'" + path.replace("'", "''") + "'" for path in files)
    return f"""
create table rated_segments as
with deduplicated as (
    -- One row per event ID: the fastest dedup measured here (GROUP BY with any_value, not
    -- row_number() over a partition).
    select
        event_id,
        any_value(customer_id) as customer_key,
        any_value(meter) as meter_id,
        any_value(quantity) as quantity_text,
        any_value(amount) as amount_text,
        any_value("timestamp") as timestamp_text,
        any_value(properties) as properties
    from read_parquet([{listed}])
    where nullif(trim(event_id), '') is not null
    group by event_id
),

parsed as (
    select
        event_id, customer_key, meter_id, properties, amount_text,
        try_cast(quantity_text as decimal(38, 9)) as quantity,
        try_cast(amount_text as decimal(38, 9)) as amount,
        try_cast(timestamp_text as timestamp with time zone) at time zone 'UTC' as event_at
    from deduplicated
),

-- Valid events in the segment of the line that bills them (the segment's attributed span
-- holds the event's UTC day; at most one does), with the value their meter aggregates.
placed as materialized (
    select
        segments.billing_segment_key,
        parsed.event_id,
        parsed.event_at,
        parsed.amount,
        case segments.property
            when 'quantity' then parsed.quantity
            when 'amount' then parsed.amount
        end as measured_value,
        case when segments.aggregation = 'unique_count'
            then json_extract_string(parsed.properties, '$.' || segments.property) end as property_text
    from parsed
    inner join usage_segments as segments
        on parsed.customer_key = segments.customer_key
        and parsed.meter_id = segments.meter_id
        and cast(parsed.event_at as date) between segments.attributed_from and segments.attributed_through
    where parsed.event_at is not null
        and parsed.quantity >= 0
        and (parsed.amount is not null or parsed.amount_text is null)
),

aggregated as (
    select
        billing_segment_key,
        count(*) as event_count,
        sum(measured_value) as summed,
        max(measured_value) as largest,
        count(distinct property_text) as distinct_values,
        arg_max(measured_value, event_at) as latest
    from placed
    group by billing_segment_key
),

quantities as (
    select
        segments.*,
        aggregated.event_count,
        cast(case segments.aggregation
            when 'sum' then aggregated.summed
            when 'max' then aggregated.largest
            when 'count' then aggregated.event_count
            when 'unique_count' then aggregated.distinct_values
            when 'latest' then aggregated.latest
        end as decimal(38, 9)) as quantity,
        -- The included quantity prorated by the segment's days, rounded half up to 9 places
        -- on integers (DuckDB divides a DECIMAL into a DOUBLE).
        case when segments.price_model = 'percentage' then 0::decimal(38, 9)
        else cast(cast((cast(segments.included_quantity * segments.days_in_segment * 1000000000 as hugeint) * 2
                        + segments.days_in_full_period) // (2 * segments.days_in_full_period) as decimal(38, 9))
                  * 0.000000001 as decimal(38, 9))
        end as included
    from aggregated
    inner join usage_segments as segments on aggregated.billing_segment_key = segments.billing_segment_key
),

billable as (
    select *, case when quantity > included then quantity - included else 0 end as billable_quantity
    from quantities
),

-- The tier join: graduated lines sum every tier their quantity reaches (the first tier's fee is
-- due at zero), volume lines price the whole quantity at the tier holding it.
tiered as (
    select
        billable.billing_segment_key,
        sum(case
            when billable.price_model = 'volume' then billable.billable_quantity * tiers.unit_price
                + case when billable.billable_quantity > 0 or billable.segment_number = 1 then tiers.flat_fee
                       else 0 end
            else case when least(billable.billable_quantity, coalesce(tiers.upper_bound, billable.billable_quantity))
                               > tiers.lower_bound
                      then (least(billable.billable_quantity, coalesce(tiers.upper_bound, billable.billable_quantity))
                            - tiers.lower_bound) * tiers.unit_price
                      else 0 end
                 + case when tiers.lower_bound < billable.billable_quantity
                             or (tiers.tier_number = 1 and billable.segment_number = 1) then tiers.flat_fee
                        else 0 end
        end) as charge
    from billable
    inner join price_tiers as tiers
        on billable.line_version_key = tiers.line_version_key
        and (billable.price_model in ('graduated', 'graduated_percentage')
             or (billable.billable_quantity > tiers.lower_bound
                 and (tiers.upper_bound is null or billable.billable_quantity <= tiers.upper_bound))
             or (billable.billable_quantity = 0 and tiers.tier_number = 1))
    where billable.price_model in ('graduated', 'graduated_percentage', 'volume')
    group by billable.billing_segment_key
),

-- Percentage lines: each event in the billing period's time order; the first free_events
-- events and the first free_amount of amount are free (whichever runs out first), the rest
-- cost amount x rate / 100 + fixed fee, clamped to the per-event minimum and maximum.
percentage_events as (
    select
        segments.billing_segment_key,
        segments.rate_percent, segments.fixed_fee, segments.free_events, segments.free_amount,
        segments.min_per_event, segments.max_per_event,
        coalesce(placed.amount, 0) as amount,
        row_number() over period_order as event_rank,
        coalesce(sum(coalesce(placed.amount, 0)) over (
            period_order rows between unbounded preceding and 1 preceding), 0) as amount_before
    from placed
    inner join usage_segments as segments on placed.billing_segment_key = segments.billing_segment_key
    where segments.price_model = 'percentage'
    window period_order as (
        partition by segments.contract_line_id, segments.billing_period_key
        order by placed.event_at, placed.event_id)
),

percentage_charges as (
    select
        billing_segment_key,
        sum(case
            when is_free then 0
            when min_per_event is not null and unclamped < min_per_event then min_per_event
            when max_per_event is not null and unclamped > max_per_event then max_per_event
            else unclamped
        end) as charge
    from (
        select
            *,
            case
                when free_events is null and free_amount is null then false
                when free_events is not null and event_rank > free_events then false
                when free_amount is null then true
                else free_amount - amount_before >= amount
            end as is_free,
            case
                when free_events is null and free_amount is null then amount
                when free_events is not null and event_rank > free_events then amount
                when free_amount is null then 0
                when free_amount - amount_before >= amount then 0
                when free_amount - amount_before <= 0 then amount
                else amount - (free_amount - amount_before)
            end * rate_percent * 0.01 + coalesce(fixed_fee, 0) as unclamped
        from percentage_events
    )
    group by billing_segment_key
),

rated as (
    select
        billable.*,
        case billable.price_model
            when 'unit' then billable.billable_quantity * billable.unit_price
            when 'package' then
                ((cast(greatest(billable.billable_quantity - billable.free_units, 0) * 1000000000 as hugeint)
                  + cast(billable.package_size * 1000000000 as hugeint) - 1)
                 // cast(billable.package_size * 1000000000 as hugeint)) * billable.package_price
            when 'percentage' then coalesce(percentage_charges.charge, 0)
            else tiered.charge
        end as raw_amount
    from billable
    left join tiered on billable.billing_segment_key = tiered.billing_segment_key
    left join percentage_charges on billable.billing_segment_key = percentage_charges.billing_segment_key
)

select
    billing_segment_key, billing_period_key, contract_line_id, line_key, meter_id, period_start,
    period_end, price_model, currency_code, event_count, quantity, billable_quantity,
    -- Rounded once, half away from zero, to the currency's minor units (each branch a constant).
    case minor_units
        when 0 then cast(round(raw_amount, 0) as decimal(38, 9))
        when 2 then cast(round(raw_amount, 2) as decimal(38, 9))
        when 3 then cast(round(raw_amount, 3) as decimal(38, 9))
        when 4 then cast(round(raw_amount, 4) as decimal(38, 9))
    end as amount
from rated
"""


# Unmeasured: the baseline's rated segments against the dbt path's usage records of the same
# billing periods (``built``: the dbt stage's warehouse, ``baseline``: the baseline's). Totals
# are exact decimals per currency, as text; the records are matched on line and period.
COMPARISON = """
with baseline as (
    select line_key, period_start, currency_code, sum(amount) as amount, sum(event_count) as event_count
    from baseline.rated_segments
    group by all
),
dbt_records as (
    select records.line_key, records.period_start, records.currency_code, records.amount, records.event_count
    from built.marts.fct_usage_records as records
    where records.usage_status <> 'adjustment' and ? between records.period_start and records.period_end
),
paired as (
    select
        coalesce(baseline.currency_code, dbt_records.currency_code) as currency_code,
        baseline.amount as baseline_amount,
        dbt_records.amount as dbt_amount,
        coalesce(dbt_records.event_count, 0) as dbt_events,
        coalesce(baseline.event_count, 0) as baseline_events
    from baseline
    full outer join dbt_records
        on baseline.line_key = dbt_records.line_key and baseline.period_start = dbt_records.period_start
)
select
    currency_code,
    count(*) filter (where baseline_amount is not null) as baseline_records,
    count(*) filter (where dbt_amount is not null) as dbt_records,
    count(*) filter (where dbt_events > 0) as dbt_records_with_events,
    count(*) filter (where baseline_amount = dbt_amount) as equal_to_the_cent,
    cast(coalesce(sum(baseline_amount), 0) as varchar) as baseline_total,
    cast(coalesce(sum(dbt_amount), 0) as varchar) as dbt_total,
    cast(coalesce(sum(dbt_amount) filter (where dbt_events > 0), 0) as varchar) as dbt_total_with_events,
    sum(baseline_events) as baseline_events,
    sum(dbt_events) as dbt_events
from paired
group by currency_code
order by currency_code
"""
