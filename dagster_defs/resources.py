"""Dagster resources: configuration in, connections out. Values arrive through EnvVar at run time."""

from pathlib import Path

import dlt
import duckdb
from dagster import ConfigurableResource

from ingestion.pipelines import finish_interrupted_load, raw_pipeline
from meterledger.connections.netsuite import NetSuiteConnection, NetSuiteCredentials
from meterledger.connections.salesforce import SalesforceConnection
from reverse_etl.netsuite import NetSuiteDestination
from reverse_etl.salesforce import SalesforceDestination


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse file. One writer at a time: assets run in-process, one after another."""

    path: str

    def ensure_folder(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)

    def connect(self) -> duckdb.DuckDBPyConnection:
        self.ensure_folder()
        return duckdb.connect(self.path)

    def pipeline(self, system: str) -> dlt.Pipeline:
        """The dlt pipeline of a source system, its working state kept beside the warehouse, with
        whatever a killed run left pending finished first (exactly once), so the run extracts anew."""
        pipeline = raw_pipeline(system, self.path)
        finish_interrupted_load(pipeline)
        return pipeline


class PublishedMartsResource(ConfigurableResource):
    """Where the public marts are published for readers (BI): a folder, `current/` inside it."""

    path: str

    def root(self) -> Path:
        return Path(self.path)


class UsageFilesResource(ConfigurableResource):
    """Where the metering files are: a folder or any fsspec URL."""

    root: str


class NetSuiteResource(ConfigurableResource):
    base_url: str
    account_id: str
    consumer_key: str
    consumer_secret: str
    token_id: str
    token_secret: str
    ca_bundle: str
    concurrency: int = 4
    # The account's custom fields to load, per raw table, as JSON: custom field IDs differ per
    # account, e.g. {"journalentryline": ["custcol_credit_block_id"]}.
    custom_columns: dict[str, list[str]] = {}

    def connection(self) -> NetSuiteConnection:
        credentials = NetSuiteCredentials(self.account_id, self.consumer_key, self.consumer_secret,
                                          self.token_id, self.token_secret)
        return NetSuiteConnection(self.base_url, credentials, ca_bundle=self.ca_bundle)

    def destination(self) -> NetSuiteDestination:
        return NetSuiteDestination(self.connection(), concurrency=self.concurrency)


class SalesforceResource(ConfigurableResource):
    login_url: str
    client_id: str
    client_secret: str
    ca_bundle: str
    api_version: str = "62.0"
    # Above this many records to write, a sync uses Bulk API 2.0 instead of sObject Collections.
    bulk_threshold: int = 2000

    def connection(self) -> SalesforceConnection:
        return SalesforceConnection(self.login_url, self.client_id, self.client_secret,
                                    api_version=self.api_version, ca_bundle=self.ca_bundle)

    def destination(self) -> SalesforceDestination:
        return SalesforceDestination(self.connection(), bulk_threshold=self.bulk_threshold)
