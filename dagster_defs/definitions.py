"""Assembles the meterledger Dagster code location. Nothing here reads the environment:
EnvVar values are resolved when a run starts."""
from __future__ import annotations

from dagster import Definitions, EnvVar, define_asset_job
from dagster_dbt import DbtCliResource
from dagster_dlt import DagsterDltResource

from dagster_defs.assets.ingestion import netsuite_ingestion, salesforce_ingestion, usage_ingestion
from dagster_defs.assets.reverse_etl import reverse_etl_assets
from dagster_defs.assets.transformation import meterledger_dbt_models
from dagster_defs.project import dbt_project
from dagster_defs.resources import NetSuiteResource, SalesforceResource, UsageFilesResource, WarehouseResource

all_assets = [usage_ingestion, salesforce_ingestion, netsuite_ingestion, meterledger_dbt_models,
              *reverse_etl_assets]

defs = Definitions(
    assets=all_assets,
    jobs=[define_asset_job("daily_billing", selection="*")],
    resources={
        "dlt": DagsterDltResource(),
        "dbt": DbtCliResource(project_dir=dbt_project),
        "warehouse": WarehouseResource(path=EnvVar("METERLEDGER_WAREHOUSE")),
        "usage_files": UsageFilesResource(root=EnvVar("METERLEDGER_USAGE_ROOT")),
        "netsuite": NetSuiteResource(
            base_url=EnvVar("NETSUITE_BASE_URL"),
            account_id=EnvVar("NETSUITE_ACCOUNT_ID"),
            consumer_key=EnvVar("NETSUITE_CONSUMER_KEY"),
            consumer_secret=EnvVar("NETSUITE_CONSUMER_SECRET"),
            token_id=EnvVar("NETSUITE_TOKEN_ID"),
            token_secret=EnvVar("NETSUITE_TOKEN_SECRET"),
            ca_bundle=EnvVar("NETSUITE_CA_BUNDLE"),
            concurrency=EnvVar.int("NETSUITE_CONCURRENCY"),
        ),
        "salesforce": SalesforceResource(
            login_url=EnvVar("SALESFORCE_LOGIN_URL"),
            client_id=EnvVar("SALESFORCE_CLIENT_ID"),
            client_secret=EnvVar("SALESFORCE_CLIENT_SECRET"),
            ca_bundle=EnvVar("SALESFORCE_CA_BUNDLE"),
            api_version=EnvVar("SALESFORCE_API_VERSION"),
        ),
    },
)
