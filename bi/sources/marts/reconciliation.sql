-- One row per customer, line, meter and billing period: events to invoice, with a status.
select
    coalesce(customer_key, '(unknown)') as customer_key,
    line_key,
    meter_id,
    billing_period_key,
    period_start,
    strftime(period_start, '%Y-%m') as accounting_period,
    coalesce(currency_code, '') as currency_code,
    events_received,
    billable_quantity,
    rated_amount,
    quantity_sent,
    quantity_in_netsuite,
    quantity_invoiced,
    amount_invoiced,
    amount_difference,
    reconciliation_status,
    is_break,
    status_reason
from read_parquet('${published_dir}/current/rpt_billing_reconciliation.parquet')
