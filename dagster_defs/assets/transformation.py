"""dbt models as assets; dbt tests surface as asset checks.

Split by materialization, as Dagster's own platform does: the incremental usage models (and the
views and seeds they read) are partitioned by delivery day, the partition window going to dbt as
vars and a backfill's whole range to one invocation; the other models are rebuilt whole on every
run and are not partitioned."""

from dagster import AssetExecutionContext
from dagster_dbt import DbtCliResource, dbt_assets

from dagster_defs.dbt_args import dbt_build_args
from dagster_defs.partitions import WAREHOUSE_POOL, one_run_per_backfill, usage_delivery_days, window_of
from dagster_defs.project import dbt_project
from dagster_defs.resources import WarehouseResource

# The incremental models with every dbt node upstream of them (staging views and seeds they
# read): were those left to the unpartitioned asset, Dagster would split it into steps before
# and after the partitioned one, a dbt invocation each.
INCREMENTAL_MODELS = "+config.materialized:incremental"


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, select=INCREMENTAL_MODELS,
            name="usage_incremental_models", partitions_def=usage_delivery_days,
            backfill_policy=one_run_per_backfill, pool=WAREHOUSE_POOL)
def usage_incremental_models(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    warehouse.ensure_folder()  # dbt creates the file, not its folder
    window = window_of(context.partition_key_range)
    yield from dbt.cli(dbt_build_args(window), context=context).stream()


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, exclude=INCREMENTAL_MODELS,
            name="meterledger_dbt_models", pool=WAREHOUSE_POOL)
def meterledger_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    warehouse.ensure_folder()
    yield from dbt.cli(dbt_build_args(), context=context).stream()
