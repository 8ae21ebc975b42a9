"""The jobs: the delivery day (partitioned, scheduled), the daily build that follows it, and the
period close (started by the period-close sensor). Each runs its steps one after another in one
process: DuckDB allows one writer per file, and the warehouse pool serializes steps across runs.

The partitioned assets have a job of their own: in a partitioned run Dagster books a planned
materialization per asset and partition, for unpartitioned assets too, so a 90-day backfill of
the whole graph spent minutes in bookkeeping before its first step. The delivery job holds only
what is partitioned; the daily build runs once after it, whatever range it covered."""

from dagster import AssetSelection, define_asset_job, in_process_executor

from dagster_defs.assets.ingestion import salesforce_ingestion, usage_ingestion
from dagster_defs.assets.reverse_etl import netsuite_usage_records
from dagster_defs.assets.transformation import usage_incremental_models
from dagster_defs.checks import sync_guards
from dagster_defs.partitions import usage_delivery_days

# Salesforce comes with the delivery: events are classified against the customers it knows.
DELIVERY = AssetSelection.assets(usage_ingestion, salesforce_ingestion, usage_incremental_models)
# Usage records wait for their billing period to close. Journal entries go with the daily build:
# they exist only for complete months (int_accounting_periods), post into the first open
# accounting period, and change when NetSuite's invoices are read back (billed to date).
USAGE_RECORD_POSTINGS = AssetSelection.assets(netsuite_usage_records)

# A delivery day, or a backfill's range as one run: the usage files loaded through its last day,
# the CRM's changes, the incremental models fed the window.
usage_delivery = define_asset_job(
    "usage_delivery", selection=DELIVERY, partitions_def=usage_delivery_days, executor_def=in_process_executor,
    description="Loads a delivery day's usage files (or a backfill's range) and the incremental models.")

# ERP state (and the read-back), every other dbt model and its tests (as asset checks), the
# period-close status, the guards, the journal entries and the Salesforce syncs (customer
# success wants usage, credit and alerts every day). Usage records wait for the period close.
daily_billing = define_asset_job(
    "daily_billing", selection=AssetSelection.all() - DELIVERY - USAGE_RECORD_POSTINGS,
    executor_def=in_process_executor,
    description="After each delivery run: loads ERP state, builds and checks the models, posts journal "
                "entries, syncs Salesforce.")

# The NetSuite usage records, behind the blocking guards, evaluated again on the warehouse as it
# is when the close runs.
period_close = define_asset_job(
    "period_close", selection=USAGE_RECORD_POSTINGS | AssetSelection.checks(*sync_guards),
    executor_def=in_process_executor,
    description="Posts the usage records of closed billing periods to NetSuite.")
