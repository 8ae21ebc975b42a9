"""Reverse-ETL assets, each downstream of the sync_* model it pushes."""

from dagster import AssetExecutionContext, MaterializeResult, asset
from dagster_dbt import get_asset_key_for_model

from dagster_defs.assets.transformation import meterledger_dbt_models
from dagster_defs.resources import NetSuiteResource, SalesforceResource, WarehouseResource
from reverse_etl.destinations import NetSuiteDestination, SalesforceDestination
from reverse_etl.engine import run_sync
from reverse_etl.ledger import SyncResult
from reverse_etl.mapping import load_mapping


def _result(sync: SyncResult) -> MaterializeResult:
    return MaterializeResult(metadata={
        "planned": sync.planned, "unchanged": sync.unchanged, "sent": sync.sent,
        "succeeded": sync.succeeded, "failed": sync.failed,
        "first_errors": "\n".join(sync.errors[:10]),
    })


@asset(
    deps=[get_asset_key_for_model([meterledger_dbt_models], "sync_netsuite__usage_records")],
    group_name="reverse_etl",
    kinds={"netsuite"},
)
def netsuite_usage_records(context: AssetExecutionContext, warehouse: WarehouseResource,
                           netsuite: NetSuiteResource) -> MaterializeResult:
    """SuiteBilling Usage Records upserted by external ID for complete months."""
    mapping = load_mapping("netsuite").objects["usage_records"]
    destination = NetSuiteDestination(netsuite.connection(), concurrency=netsuite.concurrency)
    with warehouse.connect() as connection:
        sync = run_sync(connection, destination, "usage_records", mapping, run_id=context.run.run_id)
    context.log.info("NetSuite usage records: %s sent, %s failed", sync.sent, sync.failed)
    return _result(sync)


@asset(
    deps=[get_asset_key_for_model([meterledger_dbt_models], "sync_salesforce__usage_summaries")],
    group_name="reverse_etl",
    kinds={"salesforce"},
)
def salesforce_usage_summaries(context: AssetExecutionContext, warehouse: WarehouseResource,
                               salesforce: SalesforceResource) -> MaterializeResult:
    """Usage_Summary__c records upserted through sObject Collections."""
    mapping = load_mapping("salesforce").objects["usage_summaries"]
    destination = SalesforceDestination(salesforce.connection())
    with warehouse.connect() as connection:
        sync = run_sync(connection, destination, "usage_summaries", mapping, run_id=context.run.run_id)
    context.log.info("Salesforce usage summaries: %s sent, %s failed", sync.sent, sync.failed)
    return _result(sync)
