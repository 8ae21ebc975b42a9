"""`meterledger sync` as an operator runs it (a separate process against the Salesforce emulator):
the exit code and the last line say how the records ended."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from meterledger.sync_command import EXIT_CODES
from reverse_etl.syncs import destination_from, setting
from tests.emulators.salesforce_fixtures import (  # noqa: F401 - fixtures
    ACCOUNT_1, CLIENT_ID, CLIENT_SECRET, VERSION, SfClient, sf, sf_certificates, sf_seed_file, sf_server,
)
from tests.reverse_etl.test_salesforce_destination import NO_SUCH_ACCOUNT

REPO = Path(__file__).resolve().parents[2]


def _warehouse(path: Path, accounts: list[str]) -> Path:
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema reverse_etl_sync")
        connection.execute("""create table reverse_etl_sync.sync_salesforce__usage_summaries (
            external_id varchar, account_id varchar, contract_line_id varchar, meter_id varchar,
            period_start date, period_end date, quantity decimal(38, 9), currency_code varchar, status varchar,
            sync_blocked_reason varchar)""")
        connection.executemany(
            "insert into reverse_etl_sync.sync_salesforce__usage_summaries values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(f"cli:{n}", account, None, "api_calls", date(2026, 8, 1), date(2026, 8, 31), Decimal(f"{n}.5"), "USD",
              "final", None) for n, account in enumerate(accounts, start=1)]
            # A period not final yet: held by the model, which is no failure.
            + [("cli:held", ACCOUNT_1, None, "api_calls", date(2026, 9, 1), date(2026, 9, 30), Decimal(1), "USD",
                "provisional", "billing period 2026-09-01..2026-09-30 not final")])
        # The other objects of the mapping, empty: the mapping is checked against every model.
        connection.execute("""create table reverse_etl_sync.sync_salesforce__credit_balances (
            external_id varchar, account_id varchar, credit_block_id varchar, granted_amount decimal(38, 9),
            consumed_amount decimal(38, 9), remaining_amount decimal(38, 9), currency_code varchar,
            expires_on date, as_of date)""")
        connection.execute("""create table reverse_etl_sync.sync_salesforce__accounts (
            account_id varchar, credit_balance decimal(38, 9), usage_alert_level varchar,
            usage_alert_message varchar, credit_runout_date date)""")
    return path


def _sync(sf: SfClient, warehouse: Path, *args: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("SALESFORCE_", "NETSUITE_"))}
    environment.update({"SALESFORCE_LOGIN_URL": sf.base_url, "SALESFORCE_CLIENT_ID": CLIENT_ID,
                        "SALESFORCE_CLIENT_SECRET": CLIENT_SECRET, "SALESFORCE_API_VERSION": VERSION,
                        "SALESFORCE_CA_BUNDLE": str(sf.ca_bundle)})
    return subprocess.run([sys.executable, "-m", "meterledger", "sync", "--destination", "salesforce",
                           "--object", "usage_summaries", "--warehouse", str(warehouse),
                           "--env-file", str(warehouse.parent / "absent.env"), *args],
                          capture_output=True, text=True, cwd=REPO, env=environment, timeout=300)


def test_a_refused_record_exits_4_and_the_rerun_that_clears_it_exits_0(tmp_path, sf):
    warehouse = _warehouse(tmp_path / "w.duckdb", [ACCOUNT_1, NO_SUCH_ACCOUNT, ACCOUNT_1])

    dry = _sync(sf, warehouse, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    refused = _sync(sf, warehouse)

    assert refused.returncode == EXIT_CODES["refused"] == 4, refused.stderr
    last = refused.stdout.strip().splitlines()[-1]
    assert last == ("outcome: refused (exit 4): 2 synced, 0 unchanged, 1 held by their model, 0 to send again, "
                    "0 unknown, 1 refused (0 dead-lettered), 0 dead letters held, 0 missing a required value")
    assert f"cli:2: INVALID_CROSS_REFERENCE_KEY: invalid cross reference id: {NO_SUCH_ACCOUNT}" in refused.stdout
    assert {r["External_Id__c"] for r in sf.records("Usage_Summary__c")} >= {"cli:1", "cli:3"}

    # The account is fixed in the CRM data; the next run sends the record and clears it.
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("update reverse_etl_sync.sync_salesforce__usage_summaries set account_id = ? "
                           "where external_id = 'cli:2'", [ACCOUNT_1])
    cleared = _sync(sf, warehouse)
    assert cleared.returncode == 0, cleared.stdout + cleared.stderr
    assert cleared.stdout.strip().splitlines()[-1].startswith("outcome: complete (exit 0): 1 synced, 2 unchanged, "
                                                              "1 held by their model")
    assert [r["Account__c"] for r in sf.records("Usage_Summary__c") if r["External_Id__c"] == "cli:2"] == [ACCOUNT_1]


def test_records_left_to_send_again_exit_3(tmp_path, sf):
    warehouse = _warehouse(tmp_path / "w.duckdb", [ACCOUNT_1, ACCOUNT_1])
    sf.arm(kind="status", status=503, method="PATCH", path_contains="/composite/sobjects", count=10)

    result = _sync(sf, warehouse)

    assert result.returncode == EXIT_CODES["incomplete"] == 3, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith(
        "outcome: incomplete (exit 3): 0 synced, 0 unchanged, 1 held by their model, 2 to send again")


def test_operator_settings_have_defaults_and_clear_errors():
    base = {"SALESFORCE_LOGIN_URL": "https://127.0.0.1:1", "SALESFORCE_CLIENT_ID": "id",
            "SALESFORCE_CLIENT_SECRET": "secret", "NETSUITE_BASE_URL": "https://127.0.0.1:2",
            "NETSUITE_ACCOUNT_ID": "1", "NETSUITE_CONSUMER_KEY": "k", "NETSUITE_CONSUMER_SECRET": "s",
            "NETSUITE_TOKEN_ID": "t", "NETSUITE_TOKEN_SECRET": "u"}
    salesforce = destination_from("salesforce", base)
    assert (salesforce.connection.timeout, salesforce.batch_size, salesforce.bulk_threshold) == (30.0, 200, 2000)
    netsuite = destination_from("netsuite", base)
    assert (netsuite.connection.timeout, netsuite.batch_size, netsuite.concurrency) == (30.0, 100, 4)
    tuned = destination_from("salesforce", {**base, "SALESFORCE_TIMEOUT": "7.5", "SALESFORCE_BATCH_SIZE": "50",
                                            "SALESFORCE_BULK_THRESHOLD": "0"})
    assert (tuned.connection.timeout, tuned.batch_size, tuned.bulk_threshold) == (7.5, 50, 0)
    assert destination_from("netsuite", {**base, "NETSUITE_BATCH_SIZE": "25"}).batch_size == 25
    with pytest.raises(ValueError, match=r"NETSUITE_BATCH_SIZE='101': expected a whole number from 1 to 100"):
        destination_from("netsuite", {**base, "NETSUITE_BATCH_SIZE": "101"})
    with pytest.raises(ValueError, match=r"SALESFORCE_BATCH_SIZE='201': expected a whole number from 1 to 200"):
        destination_from("salesforce", {**base, "SALESFORCE_BATCH_SIZE": "201"})
    with pytest.raises(ValueError, match=r"SALESFORCE_TIMEOUT='soon': expected a number of at least 0.1"):
        setting({"SALESFORCE_TIMEOUT": "soon"}, "SALESFORCE_TIMEOUT", 30.0, low=0.1, whole=False)
