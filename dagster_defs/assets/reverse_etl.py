"""Reverse-ETL assets, each downstream of the sync_* model it pushes.

One asset per destination object; its materialization metadata holds the plan's and the
outcomes' counts. Each also depends on the reconciliation report and the journal entries,
whose blocking checks (dagster_defs/checks.py) stop every sync of a run when either fails. A step
that fails unexpectedly runs again under SYNC_RETRY and resumes from its ledger.

The step succeeds only when every record it planned ended synced, unchanged or held by its model
until due (``SyncResult.outcome`` "complete"). Otherwise it fails, after the other records went
through and every outcome is in the ledger, with the counts and the destination's first messages
in the failure's metadata, so the run-failure alert sensor reports it:
* records refused (this run, or dead-lettered before and unchanged) or missing a required value:
  retrying the step cannot help, so it fails at once;
* records left to resend or whose outcome stayed unknown: the step runs again under SYNC_RETRY;
* the destination stopped the sync (its daily allowance spent): it fails at once.
"""

from dagster import AssetExecutionContext, AssetsDefinition, Failure, MaterializeResult, asset
from dagster_dbt import get_asset_key_for_model

from dagster_defs.assets.transformation import meterledger_dbt_models
from dagster_defs.checks import JOURNAL_ENTRIES, RECONCILIATION
from dagster_defs.partitions import WAREHOUSE_POOL
from dagster_defs.retries import SYNC_RETRY
from reverse_etl.ledger import SyncResult
from reverse_etl.syncs import sync_destination


def _metadata(result: SyncResult) -> dict:
    return {**result.as_metadata(), "first_errors": "\n".join(result.errors[:10])}


def _failure(destination_name: str, object_name: str, result: SyncResult) -> Failure | None:
    """Why the step fails, or None when every planned record ended as it should."""
    name = f"{destination_name} {object_name}"
    first = f" First: {result.errors[0]}" if result.errors else ""
    if result.status == "stopped":
        # The destination's allowance is spent: retrying now would only be refused again.
        return Failure(f"{name}: stopped: {result.stop_reason}", metadata=_metadata(result), allow_retries=False)
    if result.outcome == "refused":
        return Failure(f"{name}: {result.failed} refused by {destination_name} ({result.dead_lettered} dead-lettered), "
                       f"{result.held_dead_letters} dead letters held, {result.missing_values} missing a required "
                       f"value; {result.succeeded} synced.{first}", metadata=_metadata(result), allow_retries=False)
    if result.outcome == "incomplete":
        return Failure(f"{name}: {result.retry} left to send again, {result.unknown} with an unknown outcome; "
                       f"{result.succeeded} synced.{first}", metadata=_metadata(result))
    return None


def _sync_asset(destination_name: str, object_name: str, model: str, description: str) -> AssetsDefinition:
    """The asset of one destination object; the destination's resource (``netsuite`` or
    ``salesforce``) builds its client."""

    @asset(name=f"{destination_name}_{object_name}",
           deps=[get_asset_key_for_model([meterledger_dbt_models], model), RECONCILIATION, JOURNAL_ENTRIES],
           group_name="reverse_etl", kinds={destination_name}, description=description,
           required_resource_keys={"warehouse", destination_name}, retry_policy=SYNC_RETRY, pool=WAREHOUSE_POOL)
    def sync(context: AssetExecutionContext) -> MaterializeResult:
        destination = getattr(context.resources, destination_name).destination()
        with context.resources.warehouse.connect() as connection:
            [result] = sync_destination(connection, destination, objects=[object_name], run_id=context.run.run_id)
        context.log.info("%s %s: %s", destination_name, object_name, result.as_metadata())
        failure = _failure(destination_name, object_name, result)
        if failure is not None:
            raise failure
        return MaterializeResult(metadata=_metadata(result))

    return sync


netsuite_usage_records = _sync_asset(
    "netsuite", "usage_records", "sync_netsuite__usage_records",
    "SuiteBilling Usage Records of final billing periods, in async batch upserts by external ID.")
netsuite_journal_entries = _sync_asset(
    "netsuite", "journal_entries", "sync_netsuite__journal_entries",
    "Journal entries upserted by external ID with their lines replaced; corrections are reversals.")
salesforce_usage_summaries = _sync_asset(
    "salesforce", "usage_summaries", "sync_salesforce__usage_summaries",
    "Usage_Summary__c records upserted through sObject Collections (Bulk API 2.0 when large).")
salesforce_credit_balances = _sync_asset(
    "salesforce", "credit_balances", "sync_salesforce__credit_balances",
    "Credit_Balance__c records, one per prepaid credit block, upserted by external ID.")
salesforce_accounts = _sync_asset(
    "salesforce", "accounts", "sync_salesforce__accounts",
    "Account credit balance and usage alert fields, updated only (an Account is never created by the sync).")

reverse_etl_assets = [netsuite_usage_records, netsuite_journal_entries, salesforce_usage_summaries,
                      salesforce_credit_balances, salesforce_accounts]
