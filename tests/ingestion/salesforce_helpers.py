"""Helpers for the Salesforce ingestion tests: an emulator the tests may reseed, the dlt pipeline
into a DuckDB file, table fingerprints, dbt over the staging models, and a stand-in connection.

Test modules import the fixtures they use: ``from tests.ingestion.salesforce_helpers import ...``.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import dlt
import duckdb
import pytest

from emulators.common.server import EmulatorServer
from emulators.common.tls import RunCertificates, create_run_certificates
from emulators.salesforce import SalesforceApp
from ingestion.salesforce import salesforce_source
from meterledger.connections.salesforce import SalesforceConnection
from tests.dbt_runs import run_dbt
from tests.emulators.salesforce_fixtures import (
    CLIENT_ID, CLIENT_SECRET, LINE_API, SfClient, build_seed, seed_id, write_seed,
)

RAW_TABLES = ("account", "contract", "contract_line_c", "price_tier_c", "amendment_c")
STAGING_MODELS = ("stg_salesforce__accounts", "stg_salesforce__contracts", "stg_salesforce__contract_lines",
                  "stg_salesforce__price_tiers", "stg_salesforce__amendments")
MANY_TIERS = 4_500  # three query pages of 2000
DELETED_TIER = seed_id("a02", 3)


def small_seed() -> dict[str, list[dict]]:
    """The emulator tests' seed without usage summaries, plus a deleted price tier of the
    amendment: 3 accounts, 4 contracts, 3 lines, 3 tiers (one deleted), 1 amendment."""
    seed = build_seed(usage_rows=0)
    del seed["Usage_Summary__c"]
    amendment = seed["Amendment__c"][0]["Id"]
    seed["Price_Tier__c"].append({"Id": DELETED_TIER, "Amendment__c": amendment, "Tier_Number__c": 1,
                                  "Unit_Price__c": Decimal("0.0012"), "IsDeleted": True})
    return seed


def seed_with_many_tiers(count: int = MANY_TIERS) -> dict[str, list[dict]]:
    """The small seed plus ``count`` price tiers on one line; Tier_Number__c runs 1..count."""
    seed = small_seed()
    seed["Price_Tier__c"] = [
        {"Contract_Line__c": LINE_API, "Tier_Number__c": number, "Up_To__c": Decimal(number * 100),
         "Unit_Price__c": Decimal("0.0001") * number}
        for number in range(1, count + 1)
    ]
    return seed


# The emulator -------------------------------------------------------------------------------------
@dataclass
class Emulator:
    """One running Salesforce emulator whose seed a test may replace (``reseed``)."""

    server: EmulatorServer
    app: SalesforceApp
    seed_file: Path
    ca_bundle: Path

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def reseed(self, seed: dict[str, list[dict]]) -> None:
        """Reset the emulator to ``seed``: records, API usage, cursors and faults."""
        write_seed(self.seed_file, seed)
        self.client().control("POST", "reset", {"tokens": True})

    def client(self) -> SfClient:
        return SfClient(self.base_url, self.ca_bundle, self.app)

    def connection(self, cls: type[SalesforceConnection] = SalesforceConnection, **options: Any):
        return cls(self.base_url, CLIENT_ID, CLIENT_SECRET, ca_bundle=str(self.ca_bundle), timeout=10, **options)

    def records(self, sobject: str) -> list[dict]:
        return self.client().records(sobject)


@pytest.fixture(scope="module")
def ingestion_certificates(tmp_path_factory: pytest.TempPathFactory) -> RunCertificates:
    return create_run_certificates(tmp_path_factory.mktemp("salesforce-ingestion-ca"))


@pytest.fixture(scope="module")
def ingestion_emulator(tmp_path_factory, ingestion_certificates) -> Iterator[Emulator]:
    seed_file = write_seed(tmp_path_factory.mktemp("salesforce-ingestion-seed") / "seed.json", small_seed())
    app = SalesforceApp(CLIENT_ID, CLIENT_SECRET, seed_file=seed_file)
    with EmulatorServer(app, ingestion_certificates) as server:
        yield Emulator(server, app, seed_file, ingestion_certificates.ca_bundle)


@pytest.fixture
def emulator(ingestion_emulator: Emulator) -> Emulator:
    """The module's emulator, back to the small seed (tokens revoked, no faults)."""
    ingestion_emulator.reseed(small_seed())
    return ingestion_emulator


# The pipeline -------------------------------------------------------------------------------------
@dataclass
class Warehouse:
    """A DuckDB file and the dlt pipeline (state in ``pipelines_dir``) that loads Salesforce into it."""

    path: Path
    pipelines_dir: Path

    def pipeline(self) -> dlt.Pipeline:
        return dlt.pipeline(pipeline_name="salesforce", dataset_name="raw_salesforce",
                            destination=dlt.destinations.duckdb(credentials=str(self.path)),
                            pipelines_dir=str(self.pipelines_dir))

    def load(self, connection, *resources: str) -> dlt.Pipeline:
        """Run the Salesforce source (only ``resources`` when named) through the pipeline."""
        source = salesforce_source(connect=lambda: connection)
        pipeline = self.pipeline()
        pipeline.run(source.with_resources(*resources) if resources else source)
        return pipeline

    def rows(self, sql: str, *params: Any) -> list[tuple]:
        with duckdb.connect(str(self.path), read_only=True) as connection:
            return connection.execute(sql, list(params)).fetchall()

    def columns(self, relation: str) -> list[str]:
        schema, table = relation.split(".")
        return [name for (name,) in self.rows(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position", schema, table)]

    def fingerprint(self, relation: str) -> tuple[int, str]:
        """Row count and a hash of every row's content, dlt's bookkeeping columns left out."""
        columns = [name for name in self.columns(relation) if not name.startswith("_dlt_")]
        rows = self.rows(f"select {', '.join(columns)} from {relation}")
        digest = hashlib.sha256("\n".join(sorted(repr(row) for row in rows)).encode()).hexdigest()
        return len(rows), digest


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    (tmp_path / "warehouse").mkdir()
    return Warehouse(tmp_path / "warehouse" / "meterledger.duckdb", tmp_path / "dlt_pipelines")


def dbt_build_salesforce_staging(warehouse: Warehouse, work_dir: Path) -> str:
    """``dbt build`` of the Salesforce staging models with their unit and data tests and the source
    tests, into the warehouse; target and logs under ``work_dir`` so the project's own stay
    untouched. Returns dbt's output; raises with it when dbt fails."""
    result = run_dbt(
        # the currencies seed: staging quarantines amounts finer than their currency
        ["--no-use-colors", "build", "--select", "source:salesforce", "staging.salesforce", "currencies",
         # only tests whose every parent is selected: not those of downstream models
         "--indirect-selection", "cautious", "--log-path", str(work_dir / "logs")],
        warehouse.path, work_dir / "target", env={"METERLEDGER_DBT_TARGET": "duckdb"})
    if not result.success:
        raise AssertionError(f"dbt build failed:\n{result.output}")
    return result.output


# A stand-in connection ----------------------------------------------------------------------------
class RecordsConnection:
    """Answers the source's queries from fixed records per object, as Salesforce would (queryAll:
    deleted records too; only records stamped at or after the query's SystemModstamp bound)."""

    def __init__(self, records: dict[str, list[dict]]) -> None:
        self.records = records

    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict]:
        sobject = re.search(r"\bFROM (\w+)", soql).group(1)
        since = re.search(r"SystemModstamp >= (\S+)", soql).group(1).replace("Z", "+0000")
        for record in self.records.get(sobject, []):
            if record["SystemModstamp"] >= since and (include_deleted or not record.get("IsDeleted")):
                yield {"attributes": {"type": sobject}, **record}
