"""dbt models as assets; dbt tests surface as asset checks.

The daily build leaves out dbt's unit tests: they test the SQL's logic on fixed inputs, not the
day's data, so they run where the logic changes (CI: tests/dbt/test_unit_tests.py), as dbt
recommends, and the unattended run only pays for the data tests."""

from dagster import AssetExecutionContext
from dagster_dbt import DbtCliResource, dbt_assets

from dagster_defs.project import dbt_project


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project)
def meterledger_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(["build", "--exclude-resource-type", "unit_test"], context=context).stream()
