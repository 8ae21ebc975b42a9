"""dbt models as assets; dbt tests surface as asset checks."""

from dagster import AssetExecutionContext
from dagster_dbt import DbtCliResource, dbt_assets

from dagster_defs.project import dbt_project


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project)
def meterledger_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(["build"], context=context).stream()
