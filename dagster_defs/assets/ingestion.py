"""dlt assets, one per source resource, keyed [raw_<system>, <table>] like the dbt sources."""

import dlt
from dagster import AssetExecutionContext, AssetKey, AssetSpec
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from dagster_defs.resources import NetSuiteResource, SalesforceResource, UsageFilesResource, WarehouseResource
from ingestion.netsuite import netsuite_source
from ingestion.salesforce import salesforce_source
from ingestion.usage import usage_source


class RawTableTranslator(DagsterDltTranslator):
    """Keys each dlt resource as the raw table it loads, so dbt sources depend on it directly."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        spec = super().get_asset_spec(data)
        dataset = data.pipeline.dataset_name if data.pipeline else f"raw_{data.resource.source_name}"
        return spec.replace_attributes(key=AssetKey([dataset, data.resource.name]), deps=[])


def _declaration(system: str, declared_source) -> dict:
    """What @dlt_assets needs to name a system's assets. Only names matter here: the run builds
    its source from the resources and uses the warehouse resource's pipeline."""
    return {
        "dlt_source": declared_source,
        "dlt_pipeline": dlt.pipeline(pipeline_name=system, dataset_name=f"raw_{system}", destination="duckdb"),
        "name": f"{system}_ingestion",
        "group_name": "ingestion",
        "dagster_dlt_translator": RawTableTranslator(),
    }


def _unset():
    raise RuntimeError("the source is declared only; the asset builds its own connection")


@dlt_assets(**_declaration("usage", usage_source(root=".")))
def usage_ingestion(context: AssetExecutionContext, dlt: DagsterDltResource,
                    warehouse: WarehouseResource, usage_files: UsageFilesResource):
    yield from dlt.run(context=context, dlt_source=usage_source(root=usage_files.root),
                       dlt_pipeline=warehouse.pipeline("usage"))


@dlt_assets(**_declaration("salesforce", salesforce_source(connect=_unset)))
def salesforce_ingestion(context: AssetExecutionContext, dlt: DagsterDltResource,
                         warehouse: WarehouseResource, salesforce: SalesforceResource):
    connection = salesforce.connection()
    yield from dlt.run(context=context, dlt_source=salesforce_source(connect=lambda: connection),
                       dlt_pipeline=warehouse.pipeline("salesforce"))


@dlt_assets(**_declaration("netsuite", netsuite_source(connect=_unset)))
def netsuite_ingestion(context: AssetExecutionContext, dlt: DagsterDltResource,
                       warehouse: WarehouseResource, netsuite: NetSuiteResource):
    connection = netsuite.connection()
    source = netsuite_source(connect=lambda: connection, custom_columns=netsuite.custom_columns)
    yield from dlt.run(context=context, dlt_source=source, dlt_pipeline=warehouse.pipeline("netsuite"))
