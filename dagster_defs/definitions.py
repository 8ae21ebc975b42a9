"""Assembles the meterledger Dagster code location. Nothing here reads the environment:
EnvVar values are resolved when a run starts."""

from dagster import Definitions, EnvVar
from dagster_dbt import DbtCliResource
from dagster_dlt import DagsterDltResource

from dagster_defs.alerts import NotifierResource, alert_sensors
from dagster_defs.assets.ingestion import netsuite_ingestion, salesforce_ingestion, usage_ingestion
from dagster_defs.assets.period_close import billing_period_close
from dagster_defs.assets.publication import published_marts
from dagster_defs.assets.reverse_etl import reverse_etl_assets
from dagster_defs.assets.transformation import meterledger_dbt_models, usage_incremental_models
from dagster_defs.checks import sync_guards
from dagster_defs.jobs import daily_billing, period_close, usage_delivery
from dagster_defs.project import dbt_project
from dagster_defs.resources import (NetSuiteResource, PublishedMartsResource, SalesforceResource, UsageFilesResource,
                                    WarehouseResource)
from dagster_defs.schedules import usage_delivery_schedule
from dagster_defs.sensors import daily_billing_after_delivery, period_close_sensor

defs = Definitions(
    assets=[usage_ingestion, salesforce_ingestion, netsuite_ingestion, usage_incremental_models,
            meterledger_dbt_models, billing_period_close, published_marts, *reverse_etl_assets],
    asset_checks=sync_guards,
    jobs=[usage_delivery, daily_billing, period_close],
    schedules=[usage_delivery_schedule],
    sensors=[daily_billing_after_delivery, period_close_sensor, *alert_sensors],
    resources={
        "dlt": DagsterDltResource(),
        "dbt": DbtCliResource(project_dir=dbt_project),
        "warehouse": WarehouseResource(path=EnvVar("METERLEDGER_WAREHOUSE")),
        "usage_files": UsageFilesResource(root=EnvVar("METERLEDGER_USAGE_ROOT")),
        "published": PublishedMartsResource(path=EnvVar("METERLEDGER_PUBLISHED_DIR")),
        # Empty: alerts go to the log; a URL: they are POSTed there too (pipeline_environment()).
        "notifier": NotifierResource(webhook_url=EnvVar("METERLEDGER_ALERT_WEBHOOK_URL")),
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
