"""A small warehouse holding the NetSuite sync models, and a connection to a private emulator."""
from __future__ import annotations

import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from meterledger.connections.netsuite import NetSuiteConnection, NetSuiteCredentials
from tests.emulators.netsuite_fixtures import NETSUITE_ACCOUNT_ID, NETSUITE_CREDENTIALS

USAGE_COLUMNS = ("external_id varchar, customer_id varchar, subscription_id varchar, subscription_line_id varchar, "
                 "usage_quantity decimal(38, 9), usage_date date, memo varchar, sync_blocked_reason varchar")
JOURNAL_COLUMNS = ("sync_key varchar, external_id varchar, subsidiary_id varchar, currency_id varchar, "
                   "posting_period_id varchar, transaction_date date, memo varchar, line_number integer, "
                   "account_id varchar, debit decimal(38, 9), credit decimal(38, 9), entity_id varchar, "
                   "line_memo varchar, credit_block_id varchar")


def usage_row(n: int, quantity: str | None = None, *, line: str = "500", blocked: str | None = None) -> tuple:
    return (f"usage:test:{n:05d}", "1", "400", line, Decimal(quantity or f"{n}.125"), date(2026, 8, 31),
            f"test record {n}", blocked)


def journal_rows(n: int, amount: str = "100.00", block: str | None = None) -> list[tuple]:
    external_id = f"je:T{n:04d}:revenue_recognition:2026-08"
    common = (external_id, "1", "1", "101", date(2026, 8, 31), f"entry {n}")
    return [(f"{external_id}:1", *common, 1, "12", Decimal(amount), Decimal(0), "1", "deferred revenue", block),
            (f"{external_id}:2", *common, 2, "10", Decimal(0), Decimal(amount), "1", "revenue", block)]


def warehouse(path: Path, usage: list[tuple] = (), journal: list[tuple] = ()) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(path))
    connection.execute("create schema if not exists reverse_etl_sync")
    connection.execute(f"create or replace table reverse_etl_sync.sync_netsuite__usage_records ({USAGE_COLUMNS})")
    connection.execute(f"create or replace table reverse_etl_sync.sync_netsuite__journal_entries ({JOURNAL_COLUMNS})")
    if usage:
        connection.executemany("insert into reverse_etl_sync.sync_netsuite__usage_records values (?, ?, ?, ?, ?, ?, ?, ?)",
                               list(usage))
    if journal:
        connection.executemany("insert into reverse_etl_sync.sync_netsuite__journal_entries "
                               "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(journal))
    return connection


def connection_to(client, **options) -> NetSuiteConnection:
    return NetSuiteConnection(client.base_url, NetSuiteCredentials(NETSUITE_ACCOUNT_ID, **NETSUITE_CREDENTIALS),
                              ca_bundle=str(client.ca_bundle), **options)


def held_counts(client, record_type: str, prefix: str) -> dict[str, int]:
    """External ID -> how many records NetSuite holds with it, counted through SuiteQL."""
    table = "transaction" if record_type == "journalentry" else record_type
    rows = connection_to(client).suiteql(f"SELECT externalid FROM {table} WHERE externalid LIKE '{prefix}%'")
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["externalid"]] = counts.get(row["externalid"], 0) + 1
    return counts


def writes(client, settle: float = 0.0) -> int:
    """Write requests the emulator answered. An answer held past a client's timeout is logged
    when the emulator sends it: ``settle`` waits that long for the count to stop moving."""
    count = client.control("GET", "requests").json()["writes"]
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        time.sleep(0.25)
        count = client.control("GET", "requests").json()["writes"]
    return count
