"""The sync engine against the Salesforce emulator: per-record outcomes, diff-only resends."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb

from reverse_etl.destinations import SalesforceDestination
from reverse_etl.engine import run_sync
from reverse_etl.mapping import load_mapping


def _warehouse(tmp_path, rows):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    connection.execute("create schema reverse_etl_sync")
    connection.execute("""create table reverse_etl_sync.sync_salesforce__usage_summaries (
        external_id varchar, account_id varchar, contract_line_id varchar, meter_id varchar,
        period_start date, period_end date, quantity decimal(38, 9), currency_code varchar, status varchar)""")
    connection.executemany("insert into reverse_etl_sync.sync_salesforce__usage_summaries values "
                           "(?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return connection


def test_one_bad_record_fails_alone_and_only_changes_are_resent(tmp_path, salesforce_connection):
    account = next(salesforce_connection.query("SELECT Id FROM Account LIMIT 1"))["Id"]
    good = [(f"engine-test:{n}", account, None, "api_calls", date(2026, 8, 1), date(2026, 8, 31),
             Decimal(f"{n}.125"), "USD", "final") for n in range(1, 251)]
    bad = ("engine-test:bad", "001000000000000AAA", None, "api_calls", date(2026, 8, 1), date(2026, 8, 31),
           Decimal("1"), "USD", "final")
    connection = _warehouse(tmp_path, good + [bad])
    mapping = load_mapping("salesforce").objects["usage_summaries"]
    destination = SalesforceDestination(salesforce_connection)

    first = run_sync(connection, destination, "usage_summaries", mapping, run_id="run-1")
    assert (first.planned, first.sent, first.succeeded, first.failed) == (251, 251, 250, 1)
    assert first.errors[0].startswith("engine-test:bad: ")
    statuses = dict(connection.execute("select status, count(*) from reverse_etl.sync_ledger group by 1").fetchall())
    assert statuses == {"synced": 250, "failed": 1}
    stored = {r["External_Id__c"]: r["Quantity__c"] for r in salesforce_connection.query(
        "SELECT External_Id__c, Quantity__c FROM Usage_Summary__c WHERE External_Id__c LIKE 'engine-test:%'")}
    assert len(stored) == 250 and Decimal(str(stored["engine-test:7"])) == Decimal("7.125")

    connection.execute("update reverse_etl_sync.sync_salesforce__usage_summaries set quantity = 99 "
                       "where external_id = 'engine-test:3'")
    second = run_sync(connection, destination, "usage_summaries", mapping, run_id="run-2")
    assert (second.sent, second.unchanged, second.succeeded, second.failed) == (2, 249, 1, 1)
    [(attempts,)] = connection.execute("select attempts from reverse_etl.sync_ledger "
                                       "where external_id = 'engine-test:bad'").fetchall()
    assert attempts == 2
    updated = next(salesforce_connection.query(
        "SELECT Quantity__c FROM Usage_Summary__c WHERE External_Id__c = 'engine-test:3'"))
    assert Decimal(str(updated["Quantity__c"])) == Decimal("99")
