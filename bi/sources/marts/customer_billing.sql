-- Billed by meterledger and invoiced by NetSuite, per customer, currency and month.
select * from read_parquet('${published_dir}/current/rpt_customer_billing.parquet')
