"""Dagster resources: configuration in, connections out. Values arrive through EnvVar at run time."""

from pathlib import Path

import dlt
import duckdb
from dagster import ConfigurableResource
from pydantic import Field

from ingestion.pipelines import finish_interrupted_load, raw_pipeline
from meterledger.connections.netsuite import NetSuiteConnection, NetSuiteCredentials
from meterledger.connections.salesforce import SalesforceConnection
from reverse_etl.netsuite import BATCH_SIZE, NetSuiteDestination
from reverse_etl.salesforce import COLLECTION_SIZE, SalesforceDestination


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
    # The operator's knobs, with the defaults `meterledger sync` has (NETSUITE_TIMEOUT, NETSUITE_BATCH_SIZE).
    # Ranges are checked by the destination when it is built (pydantic bounds would also reject
    # the placeholder an EnvVar stands for until a run starts).
    timeout_seconds: float = Field(default=30.0, description="seconds one request may take")
    batch_size: int = Field(default=BATCH_SIZE, description=f"records per batch upsert, 1 to {BATCH_SIZE}")
    # The account's custom fields to load, per raw table, as JSON: custom field IDs differ per
    # account, e.g. {"journalentryline": ["custcol_credit_block_id"]}.
    custom_columns: dict[str, list[str]] = {}

    def connection(self) -> NetSuiteConnection:
        credentials = NetSuiteCredentials(self.account_id, self.consumer_key, self.consumer_secret,
                                          self.token_id, self.token_secret)
        return NetSuiteConnection(self.base_url, credentials, ca_bundle=self.ca_bundle, timeout=self.timeout_seconds)

    def destination(self) -> NetSuiteDestination:
        return NetSuiteDestination(self.connection(), concurrency=self.concurrency, batch_size=self.batch_size)


class SalesforceResource(ConfigurableResource):
    login_url: str
    client_id: str
    client_secret: str
    ca_bundle: str
    api_version: str = "62.0"
    # The operator's knobs, with the defaults `meterledger sync` has (SALESFORCE_TIMEOUT, ...).
    timeout_seconds: float = Field(default=30.0, description="seconds one request may take")
    batch_size: int = Field(default=COLLECTION_SIZE, description=f"records per sObject Collections call, 1 to "
                                                                 f"{COLLECTION_SIZE}")
    bulk_threshold: int = Field(default=2000, description="above this many records, Bulk API 2.0")

    def connection(self) -> SalesforceConnection:
        return SalesforceConnection(self.login_url, self.client_id, self.client_secret, api_version=self.api_version,
                                    ca_bundle=self.ca_bundle, timeout=self.timeout_seconds)

    def destination(self) -> SalesforceDestination:
        return SalesforceDestination(self.connection(), bulk_threshold=self.bulk_threshold,
                                     batch_size=self.batch_size)
