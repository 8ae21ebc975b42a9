"""The published copy of the public marts (meterledger/publish.py), the last step of the daily
build: BI reads Parquet files, never the warehouse the next run writes.

It depends on every public mart, the reconciliation and the journal entries among them, so it runs
only when the dbt build passed (its tests are part of the step) and the blocking guards did: a run
that fails leaves the last good publication in place."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset
from dagster_dbt import get_asset_key_for_model

from dagster_defs.assets.transformation import meterledger_dbt_models, usage_incremental_models
from dagster_defs.partitions import WAREHOUSE_POOL
from dagster_defs.project import dbt_project
from dagster_defs.resources import PublishedMartsResource, WarehouseResource
from meterledger.publish import public_marts, publish_marts

PUBLIC_MARTS = public_marts(dbt_project.manifest_path)


def _asset_key(model: str):
    # A public mart is built by the incremental (partitioned) dbt asset or by the other one.
    for dbt_asset in (meterledger_dbt_models, usage_incremental_models):
        try:
            return get_asset_key_for_model([dbt_asset], model)
        except KeyError:
            continue
    raise KeyError(f"public mart {model} is in neither dbt asset")


PUBLIC_MART_KEYS = [_asset_key(mart.name) for mart in PUBLIC_MARTS]


@asset(name="published_marts", group_name="bi", deps=PUBLIC_MART_KEYS, pool=WAREHOUSE_POOL,
       description="The public marts as Parquet files (published/current/<mart>.parquet) for BI readers.")
def published_marts(context: AssetExecutionContext, warehouse: WarehouseResource,
                    published: PublishedMartsResource) -> MaterializeResult:
    with warehouse.connect() as connection:
        publication = publish_marts(connection, PUBLIC_MARTS, published.root(), run_id=context.run.run_id)
    context.log.info("published %d marts to %s", len(publication.tables), publication.folder)
    return MaterializeResult(metadata={
        "release": MetadataValue.path(str(publication.folder)),
        "rows": MetadataValue.json(publication.tables),
    })
