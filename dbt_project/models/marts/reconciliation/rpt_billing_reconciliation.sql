-- Billing reconciliation: one row per customer, usage line, meter and billing period, following
-- the usage from the events delivered, through the usage records rated here, to what the sync
-- ledger says was sent, what NetSuite holds (its usage records read back) and what NetSuite
-- invoiced (its invoice lines read back), with one status per row, the first that applies:
-- unattributed, dead_letter, missing_in_netsuite, quantity_mismatch, invoice_mismatch,
-- amount_differs, pending, matched (docs/decisions.md, Reconciliation).
--
-- A row's usage records are its period's own record and the adjustments for usage of that period
-- delivered late (booked in a later period). NetSuite invoices by bill period, so one invoice
-- line bills a period's own record together with the adjustments booked in it (of earlier
-- periods). Each invoice line goes wholly (its amount, its invoice, any quantity its usage records
-- do not account for) to the row of the first of our records it bills: the period's own record
-- before adjustments, then the lowest external ID. The quantity NetSuite holds for each of our
-- records it bills counts as invoiced on that record's own row, so an adjustment invoiced with a
-- later period leaves the quantities of both rows agreeing (the amounts do differ: NetSuite rates
-- the line as a whole; reported as amount_differs).
--
-- Rows without a line: delivered rows no line and period takes (unknown customer or meter, an
-- unreadable timestamp, no line in force...) per customer, meter and month (the event's, or the
-- delivery's when its timestamp cannot be read), status 'unattributed', not a break.
{%- set quantity_tolerance = "cast(" ~ var('reconciliation_quantity_tolerance') ~ " as " ~ decimal_type() ~ ")" %}
{%- set amount_tolerance = "cast(" ~ var('reconciliation_amount_tolerance') ~ " as " ~ decimal_type() ~ ")" %}
{%- set block_on_amount = (var('reconciliation_block_on_amount') | string | lower) in ['true', '1', 'yes'] %}

with usage_records as (
    select * from {{ ref('fct_usage_records') }}
),

-- The rows: each usage line's billing periods that have started, from the period's own record.
line_periods as (
    select
        customer_key,
        contract_key,
        line_key,
        meter_id,
        billing_period_key,
        period_start,
        period_end,
        currency_code,
        usage_status,
        min(period_start) over (partition by line_key) as line_starts_on
    from usage_records
    where adjustment_sequence = 0
),

-- Every usage record on the row of the period its usage belongs to.
row_records as (
    select
        line_periods.line_key,
        line_periods.billing_period_key,
        usage_records.external_id,
        usage_records.adjustment_sequence,
        usage_records.quantity,
        usage_records.amount
    from usage_records
    inner join line_periods
        on usage_records.line_key = line_periods.line_key
        and usage_records.meter_id = line_periods.meter_id
        and usage_records.original_period_start = line_periods.period_start
),

ledger as (
    select
        external_id,
        sync_status,
        synced_at,
        last_error
    from {{ ref('stg_reverse_etl__sync_ledger') }}
    where destination = 'netsuite'
        and object_name = 'usage_records'
),

-- The last time NetSuite's usage records were read: a record synced before it must be there.
read_back as (
    select max(load_started_at) as read_back_at
    from {{ ref('stg_netsuite__usage_loads') }}
),

netsuite_usage as (
    select
        usage_record_id,
        usage_record_key,
        usage_quantity
    from {{ ref('stg_netsuite__usage_records') }}
),

netsuite_by_key as (
    select
        usage_record_key,
        count(*) as netsuite_records,
        sum(coalesce(usage_quantity, 0)) as netsuite_quantity
    from netsuite_usage
    where usage_record_key is not null
    group by usage_record_key
),

invoice_links as (
    select
        links.invoice_line_id,
        netsuite_usage.usage_quantity,
        row_records.line_key,
        row_records.billing_period_key,
        row_records.external_id,
        row_records.adjustment_sequence
    from {{ ref('stg_netsuite__invoice_line_usage_records') }} as links
    left join netsuite_usage
        on links.usage_record_id = netsuite_usage.usage_record_id
    left join row_records
        on netsuite_usage.usage_record_key = row_records.external_id
),

invoiced_records as (
    select distinct external_id
    from invoice_links
    where external_id is not null
),

record_states as (
    select
        row_records.line_key,
        row_records.billing_period_key,
        row_records.quantity,
        row_records.amount,
        ledger.sync_status,
        ledger.synced_at,
        ledger.last_error,
        netsuite_by_key.netsuite_records,
        netsuite_by_key.netsuite_quantity,
        coalesce(ledger.sync_status = 'synced', false) as is_sent,
        coalesce(ledger.sync_status = 'synced' and ledger.synced_at < read_back.read_back_at, false)
            as is_read_back_due,
        invoiced_records.external_id is not null as is_invoiced
    from row_records
    cross join read_back
    left join ledger
        on row_records.external_id = ledger.external_id
    left join netsuite_by_key
        on row_records.external_id = netsuite_by_key.usage_record_key
    left join invoiced_records
        on row_records.external_id = invoiced_records.external_id
),

record_totals as (
    select
        line_key,
        billing_period_key,
        count(*) as usage_records,
        sum(quantity) as billable_quantity,
        sum(amount) as rated_amount,
        sum(case when is_sent then 1 else 0 end) as records_sent,
        sum(case when is_sent then quantity else 0 end) as quantity_sent,
        max(case when is_sent then synced_at end) as last_synced_at,
        sum(case when sync_status = 'dead_letter' then 1 else 0 end) as records_dead_lettered,
        max(case when sync_status = 'dead_letter' then last_error end) as dead_letter_error,
        sum(case when is_sent and not is_read_back_due then 1 else 0 end) as records_awaiting_read_back,
        sum(case when is_read_back_due and netsuite_records is null then 1 else 0 end) as records_missing,
        -- Sent and read back since: what NetSuite must hold, quantity for quantity.
        sum(case when is_read_back_due and netsuite_records is not null then quantity else 0 end)
            as quantity_sent_read_back,
        sum(case when is_read_back_due and netsuite_records is not null then netsuite_quantity else 0 end)
            as quantity_read_back,
        sum(coalesce(netsuite_records, 0)) as records_in_netsuite,
        sum(coalesce(netsuite_quantity, 0)) as quantity_in_netsuite,
        sum(case when is_invoiced then 1 else 0 end) as records_invoiced,
        sum(case when is_invoiced then coalesce(netsuite_quantity, 0) else 0 end) as quantity_in_netsuite_invoiced
    from record_states
    group by line_key, billing_period_key
),

-- NetSuite's quantity of each of our records an invoice line bills (twice if billed twice).
record_invoicing as (
    select
        line_key,
        billing_period_key,
        sum(coalesce(usage_quantity, 0)) as quantity_billed
    from invoice_links
    where external_id is not null
    group by line_key, billing_period_key
),

invoice_line_anchors as (
    select
        invoice_line_id,
        line_key,
        billing_period_key,
        row_number() over (
            partition by invoice_line_id
            order by case when adjustment_sequence = 0 then 0 else 1 end, external_id
        ) as anchor_rank
    from invoice_links
    where external_id is not null
),

invoice_line_totals as (
    select
        invoice_line_id,
        sum(case when external_id is not null then coalesce(usage_quantity, 0) else 0 end) as our_records_quantity,
        sum(case when external_id is null then 1 else 0 end) as foreign_records
    from invoice_links
    group by invoice_line_id
),

-- Invoice lines billing none of our records are on no row.
attributed_invoice_lines as (
    select
        anchors.line_key,
        anchors.billing_period_key,
        invoice_lines.invoice_id,
        coalesce(invoice_lines.quantity, 0) - totals.our_records_quantity as unexplained_quantity,
        coalesce(invoice_lines.amount, 0) as amount,
        totals.foreign_records
    from invoice_line_anchors as anchors
    inner join {{ ref('stg_netsuite__invoice_lines') }} as invoice_lines
        on anchors.invoice_line_id = invoice_lines.invoice_line_id
    inner join invoice_line_totals as totals
        on anchors.invoice_line_id = totals.invoice_line_id
    where anchors.anchor_rank = 1
),

invoice_totals as (
    select
        line_key,
        billing_period_key,
        count(distinct invoice_id) as invoice_count,
        sum(unexplained_quantity) as unexplained_quantity,
        sum(amount) as amount_invoiced,
        sum(foreign_records) as foreign_records_invoiced
    from attributed_invoice_lines
    group by line_key, billing_period_key
),

delivered as (
    select
        event_row_key,
        event_id,
        customer_key,
        meter_id,
        event_at,
        delivered_on,
        disposition,
        quarantine_reason
    from {{ ref('int_usage_events_classified') }}
),

billed_events as (
    select
        event_row_key,
        line_key,
        billing_period_key
    from {{ ref('fct_usage_lineage') }}
),

-- A quarantined row goes to the period of the usage line of its customer and meter holding its
-- day (where two lines could, the earlier line, as attribution picks for valid events).
quarantined_matches as (
    select
        delivered.event_row_key,
        line_periods.line_key,
        line_periods.billing_period_key,
        row_number() over (
            partition by delivered.event_row_key
            order by line_periods.line_starts_on, line_periods.line_key
        ) as match_rank
    from delivered
    inner join line_periods
        on delivered.customer_key = line_periods.customer_key
        and delivered.meter_id = line_periods.meter_id
        and {{ dbt.safe_cast('delivered.event_at', api.Column.translate_type('date')) }}
            between line_periods.period_start and line_periods.period_end
    where delivered.disposition = 'quarantined'
),

-- Where each delivered row that is not an exact duplicate counts. A valid event no line bills
-- (fct_quarantined_usage_events' no_billable_line) counts as quarantined.
placements as (
    select
        delivered.event_row_key,
        delivered.event_id,
        delivered.quarantine_reason,
        coalesce(billed_periods.line_key, quarantined_matches.line_key) as line_key,
        coalesce(billed_periods.billing_period_key, quarantined_matches.billing_period_key) as billing_period_key,
        delivered.customer_key,
        delivered.meter_id,
        cast({{ dbt.date_trunc('month', 'coalesce(' ~ dbt.safe_cast('delivered.event_at', api.Column.translate_type('date'))
                                        ~ ', delivered.delivered_on)') }} as date) as month_start,
        case when delivered.disposition = 'quarantined' or billed_events.event_row_key is null then 1 else 0 end
            as is_quarantined
    from delivered
    left join billed_events
        on delivered.event_row_key = billed_events.event_row_key
    left join line_periods as billed_periods
        on billed_events.line_key = billed_periods.line_key
        and billed_events.billing_period_key = billed_periods.billing_period_key
    left join quarantined_matches
        on delivered.event_row_key = quarantined_matches.event_row_key
        and quarantined_matches.match_rank = 1
    where delivered.disposition <> 'duplicate'
),

-- The first occurrence of each event ID, which an exact duplicate copies.
first_occurrences as (
    select
        event_id,
        event_row_key
    from placements
    where event_id is not null
        and coalesce(quarantine_reason, '') <> 'conflicting_duplicate'
),

counted_events as (
    select
        line_key,
        billing_period_key,
        customer_key,
        meter_id,
        month_start,
        0 as is_duplicate,
        is_quarantined
    from placements
    union all
    select
        originals.line_key,
        originals.billing_period_key,
        coalesce(originals.customer_key, duplicates.customer_key) as customer_key,
        coalesce(originals.meter_id, duplicates.meter_id) as meter_id,
        coalesce(
            originals.month_start,
            cast({{ dbt.date_trunc('month', 'coalesce(' ~ dbt.safe_cast('duplicates.event_at', api.Column.translate_type('date'))
                                            ~ ', duplicates.delivered_on)') }} as date)
        ) as month_start,
        1 as is_duplicate,
        0 as is_quarantined
    from delivered as duplicates
    left join first_occurrences
        on duplicates.event_id = first_occurrences.event_id
    left join placements as originals
        on first_occurrences.event_row_key = originals.event_row_key
    where duplicates.disposition = 'duplicate'
),

event_totals as (
    select
        line_key,
        billing_period_key,
        count(*) as events_received,
        sum(is_duplicate) as duplicate_events,
        sum(is_quarantined) as quarantined_events
    from counted_events
    where line_key is not null
    group by line_key, billing_period_key
),

attributed as (
    select
        line_periods.customer_key,
        line_periods.line_key,
        line_periods.contract_key,
        line_periods.meter_id,
        line_periods.billing_period_key,
        line_periods.period_start,
        line_periods.period_end,
        line_periods.currency_code,
        line_periods.usage_status,
        coalesce(event_totals.events_received, 0) as events_received,
        coalesce(event_totals.duplicate_events, 0) as duplicate_events,
        coalesce(event_totals.quarantined_events, 0) as quarantined_events,
        record_totals.usage_records,
        record_totals.billable_quantity,
        record_totals.rated_amount,
        record_totals.records_sent,
        record_totals.quantity_sent,
        record_totals.last_synced_at,
        read_back.read_back_at,
        record_totals.records_dead_lettered,
        record_totals.dead_letter_error,
        record_totals.records_awaiting_read_back,
        record_totals.records_missing,
        record_totals.quantity_sent_read_back,
        record_totals.quantity_read_back,
        record_totals.records_in_netsuite,
        record_totals.quantity_in_netsuite,
        record_totals.records_invoiced,
        record_totals.quantity_in_netsuite_invoiced,
        case
            when record_totals.records_invoiced > 0 or invoice_totals.invoice_count > 0
                then coalesce(record_invoicing.quantity_billed, 0) + coalesce(invoice_totals.unexplained_quantity, 0)
        end as quantity_invoiced,
        invoice_totals.amount_invoiced,
        coalesce(invoice_totals.invoice_count, 0) as invoice_count,
        coalesce(invoice_totals.foreign_records_invoiced, 0) as foreign_records_invoiced,
        -- Everything rated is final, sent, read back and invoiced: only then are amounts compared.
        line_periods.usage_status = 'final'
        and record_totals.records_sent = record_totals.usage_records
        and record_totals.records_awaiting_read_back = 0
        and record_totals.records_invoiced = record_totals.usage_records as is_complete
    from line_periods
    cross join read_back
    inner join record_totals
        on line_periods.line_key = record_totals.line_key
        and line_periods.billing_period_key = record_totals.billing_period_key
    left join event_totals
        on line_periods.line_key = event_totals.line_key
        and line_periods.billing_period_key = event_totals.billing_period_key
    left join record_invoicing
        on line_periods.line_key = record_invoicing.line_key
        and line_periods.billing_period_key = record_invoicing.billing_period_key
    left join invoice_totals
        on line_periods.line_key = invoice_totals.line_key
        and line_periods.billing_period_key = invoice_totals.billing_period_key
),

assessed as (
    select
        *,
        case when records_invoiced = usage_records then coalesce(amount_invoiced, 0) - rated_amount end
            as amount_difference,
        case
            when records_dead_lettered > 0 then 'dead_letter'
            when records_missing > 0 then 'missing_in_netsuite'
            when abs(quantity_read_back - quantity_sent_read_back) > {{ quantity_tolerance }} then 'quantity_mismatch'
            when foreign_records_invoiced > 0
                or abs(quantity_invoiced - quantity_in_netsuite_invoiced) > {{ quantity_tolerance }}
                then 'invoice_mismatch'
            when is_complete
                and abs(coalesce(amount_invoiced, 0) - rated_amount) > {{ amount_tolerance }} then 'amount_differs'
            when not is_complete then 'pending'
            else 'matched'
        end as reconciliation_status
    from attributed
),

attributed_rows as (
    select
        customer_key,
        line_key,
        contract_key,
        meter_id,
        billing_period_key,
        period_start,
        period_end,
        currency_code,
        usage_status,
        events_received,
        duplicate_events,
        quarantined_events,
        usage_records,
        billable_quantity,
        rated_amount,
        records_sent,
        quantity_sent,
        records_dead_lettered,
        last_synced_at,
        read_back_at,
        records_in_netsuite,
        quantity_in_netsuite,
        records_invoiced,
        quantity_invoiced,
        amount_invoiced,
        invoice_count,
        amount_difference,
        reconciliation_status,
        case
            when reconciliation_status in ('dead_letter', 'missing_in_netsuite', 'quantity_mismatch', 'invoice_mismatch')
                then true
            when reconciliation_status = 'amount_differs' then {{ 'true' if block_on_amount else 'false' }}
            else false
        end as is_break,
        case reconciliation_status
            when 'dead_letter' then {{ dbt.concat([
                "'usage records dead-lettered: '", "cast(records_dead_lettered as " ~ dbt.type_string() ~ ")",
                "' of '", "cast(usage_records as " ~ dbt.type_string() ~ ")",
                "'; NetSuite refused them: '", "coalesce(dead_letter_error, 'no message')"]) }}
            when 'missing_in_netsuite' then {{ dbt.concat([
                "'usage records synced but not in NetSuite: '", "cast(records_missing as " ~ dbt.type_string() ~ ")",
                "' of '", "cast(records_sent as " ~ dbt.type_string() ~ ")",
                "' (last synced '", "cast(last_synced_at as " ~ dbt.type_string() ~ ")",
                "', NetSuite read back '", "cast(read_back_at as " ~ dbt.type_string() ~ ")", "')'"]) }}
            when 'quantity_mismatch' then {{ dbt.concat([
                "'NetSuite holds quantity '", decimal_text('quantity_read_back'),
                "' for usage records sent with quantity '", decimal_text('quantity_sent_read_back')]) }}
            when 'invoice_mismatch' then case
                when foreign_records_invoiced > 0 then {{ dbt.concat([
                    "'NetSuite invoiced usage records that are not meterledger''s with these: '",
                    "cast(foreign_records_invoiced as " ~ dbt.type_string() ~ ")",
                    "' (quantity invoiced '", decimal_text('quantity_invoiced'),
                    "', NetSuite holds '", decimal_text('quantity_in_netsuite_invoiced'), "' for ours)'"]) }}
                else {{ dbt.concat([
                    "'NetSuite invoiced quantity '", decimal_text('quantity_invoiced'),
                    "' for usage records it holds with quantity '", decimal_text('quantity_in_netsuite_invoiced')]) }}
            end
            when 'amount_differs' then {{ dbt.concat([
                "'NetSuite invoiced '", decimal_text('amount_invoiced'), "' '", "currency_code",
                "' against a rated amount of '", decimal_text('rated_amount'),
                "' (difference '", decimal_text('amount_difference'), "', quantity '", decimal_text('quantity_invoiced'),
                "' agrees): '",
                ("'blocking, as reconciliation_block_on_amount is set'" if block_on_amount
                 else "'NetSuite''s price plans rate usage themselves, so reported, not blocking'")]) }}
            when 'matched' then {{ dbt.concat([
                "'sent quantity '", decimal_text('quantity_sent'), "', NetSuite holds '", decimal_text('quantity_in_netsuite'),
                "' and invoiced '", decimal_text('quantity_invoiced'), "' for '", decimal_text('amount_invoiced'),
                "' '", "currency_code", "' (rated '", decimal_text('rated_amount'), "')'"]) }}
            else case
                when usage_status <> 'final' then {{ dbt.concat([
                    "'billing period not final yet: quantity '", decimal_text('billable_quantity'), "' is provisional'"]) }}
                when records_sent < usage_records then {{ dbt.concat([
                    "'usage records not sent to NetSuite yet: '", "cast(usage_records - records_sent as " ~ dbt.type_string() ~ ")",
                    "' of '", "cast(usage_records as " ~ dbt.type_string() ~ ")"]) }}
                when records_awaiting_read_back > 0 then {{ dbt.concat([
                    "'usage records synced after NetSuite was last read back: '",
                    "cast(records_awaiting_read_back as " ~ dbt.type_string() ~ ")",
                    "' (last synced '", "cast(last_synced_at as " ~ dbt.type_string() ~ ")",
                    "', NetSuite read back '", "coalesce(cast(read_back_at as " ~ dbt.type_string() ~ "), 'never')", "')'"]) }}
                else {{ dbt.concat([
                    "'usage records not invoiced by NetSuite yet: '",
                    "cast(usage_records - records_invoiced as " ~ dbt.type_string() ~ ")",
                    "' of '", "cast(usage_records as " ~ dbt.type_string() ~ ")"]) }}
            end
        end as status_reason
    from assessed
),

unattributed_rows as (
    select
        customer_key,
        cast(null as {{ dbt.type_string() }}) as line_key,
        cast(null as {{ dbt.type_string() }}) as contract_key,
        meter_id,
        cast(null as {{ dbt.type_string() }}) as billing_period_key,
        month_start as period_start,
        cast({{ dbt.last_day('month_start', 'month') }} as date) as period_end,
        cast(null as {{ dbt.type_string() }}) as currency_code,
        cast(null as {{ dbt.type_string() }}) as usage_status,
        count(*) as events_received,
        sum(is_duplicate) as duplicate_events,
        sum(is_quarantined) as quarantined_events
    from counted_events
    where line_key is null
    group by customer_key, meter_id, month_start
),

-- Rows without a line carry nothing past the events: no records, nothing sent or invoiced.
all_rows as (
    select
        customer_key, line_key, contract_key, meter_id, billing_period_key, period_start, period_end,
        currency_code, usage_status, events_received, duplicate_events, quarantined_events, usage_records,
        billable_quantity, rated_amount, records_sent, quantity_sent, records_dead_lettered, last_synced_at,
        read_back_at, records_in_netsuite, quantity_in_netsuite, records_invoiced, quantity_invoiced,
        amount_invoiced, invoice_count, amount_difference, reconciliation_status, is_break, status_reason
    from attributed_rows
    union all
    select
        customer_key, line_key, contract_key, meter_id, billing_period_key, period_start, period_end,
        currency_code, usage_status, events_received, duplicate_events, quarantined_events,
        0 as usage_records,
        cast(null as {{ decimal_type() }}) as billable_quantity,
        cast(null as {{ decimal_type() }}) as rated_amount,
        0 as records_sent,
        cast(null as {{ decimal_type() }}) as quantity_sent,
        0 as records_dead_lettered,
        cast(null as {{ dbt.type_timestamp() }}) as last_synced_at,
        cast(null as {{ dbt.type_timestamp() }}) as read_back_at,
        0 as records_in_netsuite,
        cast(null as {{ decimal_type() }}) as quantity_in_netsuite,
        0 as records_invoiced,
        cast(null as {{ decimal_type() }}) as quantity_invoiced,
        cast(null as {{ decimal_type() }}) as amount_invoiced,
        0 as invoice_count,
        cast(null as {{ decimal_type() }}) as amount_difference,
        'unattributed' as reconciliation_status,
        false as is_break,
        {{ dbt.concat([
            "'event rows no usage line and billing period takes: '", "cast(events_received as " ~ dbt.type_string() ~ ")",
            "' ('", "cast(quarantined_events as " ~ dbt.type_string() ~ ")", "' quarantined, '",
            "cast(duplicate_events as " ~ dbt.type_string() ~ ")",
            "' exact duplicates; unknown customer or meter, unreadable timestamp or no line in force:"
            ~ " fct_quarantined_usage_events has each row''s reason)'"]) }} as status_reason
    from unattributed_rows
)

select
    customer_key,
    line_key,
    contract_key,
    meter_id,
    billing_period_key,
    period_start,
    period_end,
    currency_code,
    usage_status,
    cast(events_received as {{ dbt.type_bigint() }}) as events_received,
    cast(duplicate_events as {{ dbt.type_bigint() }}) as duplicate_events,
    cast(quarantined_events as {{ dbt.type_bigint() }}) as quarantined_events,
    cast(usage_records as {{ dbt.type_bigint() }}) as usage_records,
    cast(billable_quantity as {{ decimal_type() }}) as billable_quantity,
    cast(rated_amount as {{ decimal_type() }}) as rated_amount,
    cast(records_sent as {{ dbt.type_bigint() }}) as records_sent,
    cast(quantity_sent as {{ decimal_type() }}) as quantity_sent,
    cast(records_dead_lettered as {{ dbt.type_bigint() }}) as records_dead_lettered,
    last_synced_at,
    read_back_at as netsuite_read_back_at,
    cast(records_in_netsuite as {{ dbt.type_bigint() }}) as records_in_netsuite,
    cast(quantity_in_netsuite as {{ decimal_type() }}) as quantity_in_netsuite,
    cast(records_invoiced as {{ dbt.type_bigint() }}) as records_invoiced,
    cast(quantity_invoiced as {{ decimal_type() }}) as quantity_invoiced,
    cast(amount_invoiced as {{ decimal_type() }}) as amount_invoiced,
    cast(invoice_count as {{ dbt.type_bigint() }}) as invoice_count,
    cast(amount_difference as {{ decimal_type() }}) as amount_difference,
    reconciliation_status,
    is_break,
    status_reason
from all_rows
