"""dlt assets, one per source resource, keyed [raw_<system>, <table>] like the dbt sources.

Usage ingestion is partitioned by delivery day: a run for a day (or a backfill's range) loads the
deliveries through its last day. CRM and ERP state are not partitioned: each run reads what
changed since the last (incremental cursors in dlt state). Transient failures retry the step
under INGESTION_RETRY."""

from collections.abc import Callable, Iterator
from datetime import date

import dlt
from dagster import AssetExecutionContext, AssetKey, AssetSpec
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from dagster_defs.partitions import WAREHOUSE_POOL, one_run_per_backfill, usage_delivery_days, window_of
from dagster_defs.resources import NetSuiteResource, SalesforceResource, UsageFilesResource, WarehouseResource
from dagster_defs.retries import INGESTION_RETRY, is_transient, retry_later
from ingestion.netsuite import netsuite_source
from ingestion.salesforce import salesforce_source
from ingestion.usage import usage_source


class RawTableTranslator(DagsterDltTranslator):
    """Keys each dlt resource as the raw table it loads, so dbt sources depend on it directly."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        spec = super().get_asset_spec(data)
        dataset = data.pipeline.dataset_name if data.pipeline else f"raw_{data.resource.source_name}"
        return spec.replace_attributes(key=AssetKey([dataset, data.resource.name]), deps=[])


def _declaration(system: str, declared_source, **partitioning) -> dict:
    """What @dlt_assets needs to name a system's assets. Only names matter here: the run builds
    its source from the resources and uses the warehouse resource's pipeline."""
    return {
        "dlt_source": declared_source,
        "dlt_pipeline": dlt.pipeline(pipeline_name=system, dataset_name=f"raw_{system}", destination="duckdb"),
        "name": f"{system}_ingestion",
        "group_name": "ingestion",
        "dagster_dlt_translator": RawTableTranslator(),
        "pool": WAREHOUSE_POOL,
        **partitioning,
    }


def _unset():
    raise RuntimeError("the source is declared only; the asset builds its own connection")


def _load(context: AssetExecutionContext, run: Callable[[], Iterator]) -> Iterator:
    """The dlt run's events; a transient failure asks Dagster to run the step again."""
    try:
        yield from run()
    except Exception as error:
        if is_transient(error):
            context.log.warning("ingestion failed transiently (%s); retry %d of %d follows", type(error).__name__,
                                context.retry_number + 1, INGESTION_RETRY.max_retries)
            raise retry_later(context.retry_number, INGESTION_RETRY) from error
        raise


@dlt_assets(**_declaration("usage", usage_source(root="."), partitions_def=usage_delivery_days,
                           backfill_policy=one_run_per_backfill))
def usage_ingestion(context: AssetExecutionContext, dlt: DagsterDltResource,
                    warehouse: WarehouseResource, usage_files: UsageFilesResource):
    _, last_day = window_of(context.partition_key_range)
    source = usage_source(root=usage_files.root, delivered_through=date.fromisoformat(last_day))
    yield from _load(context, lambda: dlt.run(context=context, dlt_source=source,
                                              dlt_pipeline=warehouse.pipeline("usage")))


@dlt_assets(**_declaration("salesforce", salesforce_source(connect=_unset)))
def salesforce_ingestion(context: AssetExecutionContext, dlt: DagsterDltResource,
                         warehouse: WarehouseResource, salesforce: SalesforceResource):
    connection = salesforce.connection()
    source = salesforce_source(connect=lambda: connection)
    yield from _load(context, lambda: dlt.run(context=context, dlt_source=source,
                                              dlt_pipeline=warehouse.pipeline("salesforce")))


@dlt_assets(**_declaration("netsuite", netsuite_source(connect=_unset)))
def netsuite_ingestion(context: AssetExecutionContext, dlt: DagsterDltResource,
                       warehouse: WarehouseResource, netsuite: NetSuiteResource):
    """ERP state, and the read-back of what meterledger posted: the usage records NetSuite holds
    and the invoices its billing operations made from them (rpt_billing_reconciliation)."""
    connection = netsuite.connection()
    source = netsuite_source(connect=lambda: connection, custom_columns=netsuite.custom_columns)
    yield from _load(context, lambda: dlt.run(context=context, dlt_source=source,
                                              dlt_pipeline=warehouse.pipeline("netsuite")))
