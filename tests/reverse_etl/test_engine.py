"""The sync engine with the Salesforce destination, counted in the emulator through SOQL: an
expired session midway, the daily API limit stopping a sync cleanly, diff-only resends."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest

from meterledger.connections.salesforce import SalesforceConnection
from reverse_etl.engine import run_sync
from reverse_etl.salesforce import SalesforceDestination
from tests.emulators.salesforce_fixtures import (  # noqa: F401 - fixtures
    ACCOUNT_1, CLIENT_ID, CLIENT_SECRET, VERSION, SfClient, sf, sf_certificates, sf_seed_file, sf_server,
)
from tests.reverse_etl.test_salesforce_destination import USAGE


def usage_summaries_warehouse(tmp_path, count: int, *, prefix: str = "engine-test:",
                              accounts: dict[int, str] | None = None) -> duckdb.DuckDBPyConnection:
    """``count`` usage summaries ``<prefix>0001``... of quantity ``n.125`` on ACCOUNT_1, or on the
    account ``accounts`` names for record ``n``."""
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    connection.execute("create schema reverse_etl_sync")
    connection.execute("""create table reverse_etl_sync.sync_salesforce__usage_summaries (
        external_id varchar, account_id varchar, contract_line_id varchar, meter_id varchar,
        period_start date, period_end date, quantity decimal(38, 9), currency_code varchar, status varchar)""")
    connection.executemany("insert into reverse_etl_sync.sync_salesforce__usage_summaries values "
                           "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(f"{prefix}{n:04d}", (accounts or {}).get(n, ACCOUNT_1), None, "api_calls",
                             date(2026, 8, 1), date(2026, 8, 31), Decimal(f"{n}.125"), "USD", "final")
                            for n in range(1, count + 1)])
    return connection


@pytest.fixture
def connection(sf: SfClient) -> SalesforceConnection:
    return SalesforceConnection(sf.base_url, CLIENT_ID, CLIENT_SECRET, api_version=VERSION,
                                ca_bundle=sf.ca_bundle, timeout=10, max_attempts=3)


def _held(connection: SalesforceConnection) -> dict[str, list[Decimal]]:
    held: dict[str, list[Decimal]] = {}
    for record in connection.query("SELECT External_Id__c, Quantity__c FROM Usage_Summary__c "
                                   "WHERE External_Id__c LIKE 'engine-test:%'"):
        held.setdefault(record["External_Id__c"], []).append(Decimal(str(record["Quantity__c"])))
    return held


def test_an_expired_token_midway_is_renewed_once_and_every_record_lands_once(tmp_path, sf, connection):
    warehouse = usage_summaries_warehouse(tmp_path, 450)
    expired = []

    def expire_after_first_report(done: int, total: int) -> None:
        if not expired:
            expired.append(sf.control("POST", "expire-tokens").status_code)

    result = run_sync(warehouse, SalesforceDestination(connection), "usage_summaries", USAGE,
                      progress=expire_after_first_report)

    assert expired == [200]
    assert (result.succeeded, result.failed, result.retry) == (450, 0, 0)
    held = _held(connection)
    assert len(held) == 450 and all(len(values) == 1 for values in held.values())
    assert held["engine-test:0042"] == [Decimal("42.125")]


def test_the_daily_api_limit_stops_the_sync_cleanly_and_the_next_run_finishes_it(tmp_path, sf, connection):
    warehouse = usage_summaries_warehouse(tmp_path, 450)
    usage = sf.control("GET", "api-usage").json()
    # Room for one collections call and its check query: the next call is refused.
    sf.control("POST", "api-usage", {"used": usage["max"] - 2})

    stopped = run_sync(warehouse, SalesforceDestination(connection), "usage_summaries", USAGE)

    assert stopped.status == "stopped"
    assert stopped.stop_reason.startswith("Salesforce daily API request limit reached")
    assert (stopped.succeeded, stopped.sent) == (200, 200)
    statuses = dict(warehouse.execute("select status, count(*) from reverse_etl.sync_ledger group by 1").fetchall())
    assert statuses == {"synced": 200, "retry": 250}

    sf.control("POST", "api-usage", {"used": 0})  # the next day
    assert len(_held(connection)) == 200
    finished = run_sync(warehouse, SalesforceDestination(connection), "usage_summaries", USAGE)
    assert (finished.unchanged, finished.to_create, finished.succeeded, finished.status) == (200, 250, 250, "finished")
    held = _held(connection)
    assert len(held) == 450 and all(len(values) == 1 for values in held.values())
