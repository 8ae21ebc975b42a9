"""NetSuite syncs under the faults real integrations meet, counted in the emulator through SuiteQL:
each ends with exactly one record per external ID and none missing."""
from __future__ import annotations

import logging
import math
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from reverse_etl.engine import run_sync
from reverse_etl.mapping import load_mapping
from reverse_etl.netsuite import NetSuiteDestination
from tests.reverse_etl.netsuite_sync_helpers import (
    connection_to, held_counts, journal_rows, usage_row, warehouse, writes,
)

pytest_plugins = ["tests.emulators.netsuite_fixtures"]

REPO = Path(__file__).resolve().parents[2]
MAPPING = load_mapping("netsuite")
USAGE = MAPPING.objects["usage_records"]
JOURNAL = MAPPING.objects["journal_entries"]


@pytest.fixture
def emulator(netsuite_factory):
    return netsuite_factory(async_delay=0.0)


def _destination(client, **options) -> NetSuiteDestination:
    return NetSuiteDestination(connection_to(client, **options), concurrency=4, poll_interval=0.05)


def _assert_exactly_once(client, record_type: str, prefix: str, expected: int) -> None:
    counts = held_counts(client, record_type, prefix)
    assert len(counts) == expected  # none missing
    assert set(counts.values()) == {1}  # none twice


@pytest.mark.parametrize("fault", [
    {"kind": "status", "status": 429, "count": 6},
    {"kind": "status", "status": 500, "count": 3},
    {"kind": "drop", "count": 2},
], ids=["429-burst", "500s", "dropped-connections"])
def test_usage_batches_survive_transient_faults(tmp_path, emulator, fault):
    connection = warehouse(tmp_path / "w.duckdb", usage=[usage_row(n) for n in range(1, 351)])
    count = fault.pop("count")
    for _ in range(count):
        emulator.arm_fault(method="PUT", path_contains="/record/v1/usage", **fault)

    result = run_sync(connection, _destination(emulator), "usage_records", USAGE)

    assert (result.to_create, result.succeeded, result.failed, result.retry) == (350, 350, 0, 0)
    _assert_exactly_once(emulator, "usage", "usage:test:", 350)
    [row] = connection_to(emulator).suiteql("SELECT usagequantity FROM usage WHERE externalid = 'usage:test:00007'")
    assert Decimal(row["usagequantity"]) == Decimal("7.125")


def test_a_batch_applied_but_its_answer_lost_is_followed_by_its_idempotency_key(tmp_path, emulator):
    connection = warehouse(tmp_path / "w.duckdb", usage=[usage_row(n) for n in range(1, 151)])
    # The first batch is accepted, then the answer outlives the client's 1 s timeout.
    emulator.arm_fault(kind="delay_after_apply", delay=2.5, method="PUT", path_contains="/record/v1/usage")

    result = run_sync(connection, _destination(emulator, timeout=1.0), "usage_records", USAGE)

    assert (result.succeeded, result.failed, result.retry) == (150, 0, 0)
    _assert_exactly_once(emulator, "usage", "usage:test:", 150)
    # Two batches, one sent twice with the same key: NetSuite answered IDEMPOTENCY_ERROR. (The
    # delayed answer is logged once the emulator has sent it, after the sync is done.)
    deadline = time.monotonic() + 5
    while True:
        statuses = sorted(r["status"] for r in emulator.control("GET", "requests").json()["requests"]
                          if r["method"] == "PUT" and r["path"].endswith("/record/v1/usage"))
        if len(statuses) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert statuses.count(202) == 2 and statuses.count(400) >= 1


def test_a_journal_entry_whose_answer_was_lost_is_read_back_not_resent(tmp_path, emulator):
    journal = [row for n in range(1, 6) for row in journal_rows(n)]
    connection = warehouse(tmp_path / "w.duckdb", journal=journal)
    emulator.arm_fault(kind="delay_after_apply", delay=2.5, method="PUT", path_contains="/journalentry/eid:")
    emulator.control("DELETE", "requests")

    result = run_sync(connection, _destination(emulator, timeout=1.0), "journal_entries", JOURNAL)

    assert (result.succeeded, result.failed, result.retry) == (5, 0, 0)
    _assert_exactly_once(emulator, "journalentry", "je:T", 5)
    assert writes(emulator, settle=2.5) == 5  # the entry held after the timeout was not sent again
    entry = emulator.record("journalentry", "eid:je:T0003:revenue_recognition:2026-08").json()
    lines = entry["line"]["items"]
    assert [(line.get("debit"), line.get("credit")) for line in lines] == [(100, None), (None, 100)]


def test_journal_entries_survive_429_500_and_drops(tmp_path, emulator):
    journal = [row for n in range(1, 21) for row in journal_rows(n)]
    connection = warehouse(tmp_path / "w.duckdb", journal=journal)
    for fault in ({"kind": "status", "status": 429}, {"kind": "status", "status": 500}, {"kind": "drop"}):
        for _ in range(2):
            emulator.arm_fault(method="PUT", path_contains="/journalentry/", **fault)

    result = run_sync(connection, _destination(emulator), "journal_entries", JOURNAL)

    assert (result.succeeded, result.failed, result.retry) == (20, 0, 0)
    _assert_exactly_once(emulator, "journalentry", "je:T", 20)


def test_the_same_day_synced_twice_writes_nothing_the_second_time(tmp_path, emulator):
    connection = warehouse(tmp_path / "w.duckdb", usage=[usage_row(n) for n in range(1, 121)],
                           journal=[row for n in range(1, 4) for row in journal_rows(n)])
    destination = _destination(emulator)
    run_sync(connection, destination, "usage_records", USAGE)
    run_sync(connection, destination, "journal_entries", JOURNAL)
    before = writes(emulator)

    again = [run_sync(connection, destination, name, mapping)
             for name, mapping in (("usage_records", USAGE), ("journal_entries", JOURNAL))]

    assert writes(emulator) == before
    assert [(r.unchanged, r.sent) for r in again] == [(120, 0), (3, 0)]
    _assert_exactly_once(emulator, "usage", "usage:test:", 120)

    # A changed record is the only one sent on the next run.
    connection.execute("update reverse_etl_sync.sync_netsuite__usage_records set usage_quantity = 42 "
                       "where external_id = 'usage:test:00009'")
    changed = run_sync(connection, destination, "usage_records", USAGE)
    assert (changed.to_update, changed.unchanged, changed.succeeded) == (1, 119, 1)
    assert writes(emulator) == before + 1
    [row] = connection_to(emulator).suiteql("SELECT usagequantity FROM usage WHERE externalid = 'usage:test:00009'")
    assert Decimal(row["usagequantity"]) == Decimal(42)


def test_a_refused_record_is_dead_lettered_with_netsuite_message_and_the_rest_are_sent(tmp_path, emulator):
    rows = [usage_row(n) for n in range(1, 101)] + [usage_row(101, line="999999")]
    connection = warehouse(tmp_path / "w.duckdb", usage=rows)
    mapping = USAGE.model_copy(update={"max_attempts": 2})
    destination = _destination(emulator)

    first = run_sync(connection, destination, "usage_records", mapping)
    second = run_sync(connection, destination, "usage_records", mapping)
    third = run_sync(connection, destination, "usage_records", mapping)

    assert (first.succeeded, first.failed, first.dead_lettered) == (100, 1, 0)
    assert (second.sent, second.failed, second.dead_lettered) == (1, 1, 1)
    assert (third.sent, third.blocked) == (0, 1)
    [(status, attempts, error)] = connection.execute(
        "select status, attempts, last_error from reverse_etl.sync_ledger "
        "where external_id = 'usage:test:00101'").fetchall()
    assert (status, attempts) == ("dead_letter", 2)
    assert "999999" in error  # NetSuite's own message names the missing line
    _assert_exactly_once(emulator, "usage", "usage:test:", 100)
    [(reason,)] = connection.execute("select reason from reverse_etl.sync_plan where action = 'blocked'").fetchall()
    assert reason.startswith("dead-lettered after 2 attempts: ")

    retried = run_sync(connection, destination, "usage_records", mapping, retry_dead_letters=True)
    assert (retried.sent, retried.failed) == (1, 1)


def test_dry_run_plans_like_a_live_run_and_writes_nothing(tmp_path, emulator):
    rows = [usage_row(n) for n in range(1, 11)] + [
        usage_row(11, blocked="billing period 2026-11-01..2026-11-30 not final")]
    connection = warehouse(tmp_path / "w.duckdb", usage=rows)
    destination = _destination(emulator)
    run_sync(connection, destination, "usage_records", USAGE)
    connection.execute("update reverse_etl_sync.sync_netsuite__usage_records set usage_quantity = 5 "
                       "where external_id = 'usage:test:00002'")
    connection.execute("insert into reverse_etl_sync.sync_netsuite__usage_records values "
                       "(?, ?, ?, ?, ?, ?, ?, ?)", usage_row(12))
    before = writes(emulator)

    plan = run_sync(connection, destination, "usage_records", USAGE, dry_run=True)

    assert writes(emulator) == before
    assert (plan.to_create, plan.to_update, plan.unchanged, plan.blocked, plan.sent) == (1, 1, 9, 1, 0)
    actions = dict(connection.execute("select external_id, action || coalesce(': ' || reason, '') "
                                      "from reverse_etl.sync_plan").fetchall())
    assert actions["usage:test:00012"] == "create"
    assert actions["usage:test:00002"] == "update"
    assert actions["usage:test:00011"] == "blocked: billing period 2026-11-01..2026-11-30 not final"
    live = run_sync(connection, destination, "usage_records", USAGE)
    assert (live.to_create, live.to_update, live.unchanged, live.blocked, live.succeeded) == (1, 1, 9, 1, 2)


def test_the_credit_block_column_goes_to_the_account_s_own_custom_field(tmp_path, emulator):
    connection = warehouse(tmp_path / "w.duckdb", journal=journal_rows(1, block="CB-1"))
    path = tmp_path / "netsuite.yml"
    from reverse_etl.mapping import MAPPINGS_DIR
    path.write_text((MAPPINGS_DIR / "netsuite.yml").read_text().replace(
        "custcol_credit_block_id", "custcol_vendor_credit_block_id"))
    mapping = load_mapping("netsuite", path).objects["journal_entries"]

    result = run_sync(connection, _destination(emulator), "journal_entries", mapping)

    assert result.succeeded == 1
    lines = emulator.record("journalentry", "eid:je:T0001:revenue_recognition:2026-08").json()["line"]["items"]
    assert [line.get("custcol_vendor_credit_block_id") for line in lines] == ["CB-1", "CB-1"]
    assert all("custcol_credit_block_id" not in line for line in lines)


def test_no_secret_reaches_logs_errors_or_the_ledger(tmp_path, emulator, caplog):
    from tests.emulators.netsuite_fixtures import NETSUITE_CREDENTIALS

    connection = warehouse(tmp_path / "w.duckdb", usage=[usage_row(n) for n in range(1, 51)]
                           + [usage_row(51, line="999999")])
    for fault in ({"kind": "status", "status": 500}, {"kind": "drop"}):
        emulator.arm_fault(method="PUT", **fault)
    with caplog.at_level(logging.DEBUG):
        result = run_sync(connection, _destination(emulator), "usage_records", USAGE)
    assert result.failed == 1
    ledger = " ".join(str(value) for row in connection.execute(
        "select * from reverse_etl.sync_ledger union all by name select * from reverse_etl.sync_runs").fetchall()
        for value in row)
    seen = caplog.text + ledger + " ".join(result.errors) + repr(result)
    for secret in NETSUITE_CREDENTIALS.values():
        assert secret not in seen
    assert "999999" in seen  # the errors are there, only the secrets are not


@pytest.mark.parametrize("object_name, kill_after_writes", [("usage_records", 6), ("journal_entries", 12)])
def test_a_sync_killed_midway_and_started_again_ends_exactly_once(tmp_path, netsuite_factory, object_name,
                                                                  kill_after_writes):
    client = netsuite_factory(async_delay=0.0, latency=0.1)  # slow enough to be caught in the act
    path = tmp_path / "w.duckdb"
    expected = 1500 if object_name == "usage_records" else 40
    connection = warehouse(path, usage=[usage_row(n) for n in range(1, 1501)],
                           journal=[row for n in range(1, 41) for row in journal_rows(n)])
    connection.close()
    running = subprocess.Popen([sys.executable, "-m", "tests.reverse_etl.killable_sync", str(path),
                                object_name, client.base_url, str(client.ca_bundle)], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while running.poll() is None and writes(client) < kill_after_writes and time.monotonic() < deadline:
        time.sleep(0.02)
    running.send_signal(signal.SIGKILL)
    _, stderr = running.communicate(timeout=30)
    assert running.returncode == -signal.SIGKILL, stderr.decode()[-2000:]
    client.control("POST", "latency", {"seconds": 0})
    sent_before = writes(client, settle=0.5)

    connection = duckdb.connect(str(path))
    [(in_doubt,)] = connection.execute("select count(*) from reverse_etl.sync_ledger where status = 'sending'").fetchall()
    client.control("DELETE", "requests")
    rerun = run_sync(connection, _destination(client), object_name, MAPPING.objects[object_name])

    assert in_doubt > 0  # the killed run had written ahead what it was sending
    # Resolved in sets before anything is sent: SuiteQL queries of 100 entries (1,000 usage
    # records) each, never one read per record.
    answered = client.control("GET", "requests").json()["requests"]
    first_write = next((n for n, r in enumerate(answered) if r["write"]), len(answered))
    read_back = [r for r in answered[:first_write] if r["path"].endswith("/query/v1/suiteql")]
    assert 1 <= len(read_back) <= math.ceil(in_doubt / 100) and len(read_back) == first_write
    assert not [r for r in answered if r["method"] == "GET" and "/eid:" in r["path"]]
    assert rerun.failed == rerun.retry == 0
    assert rerun.confirmed_by_read_back > 0  # found in NetSuite, not sent again
    assert rerun.confirmed_by_read_back + rerun.sent + rerun.unchanged == expected
    prefix = "usage:test:" if object_name == "usage_records" else "je:T"
    _assert_exactly_once(client, "usage" if object_name == "usage_records" else "journalentry", prefix, expected)
    assert sent_before >= 1


def test_a_journal_entry_refused_is_dead_lettered_with_netsuite_s_message(tmp_path, emulator):
    unbalanced = journal_rows(2)
    unbalanced[1] = (*unbalanced[1][:10], Decimal("99.99"), *unbalanced[1][11:])  # credit 99.99 against 100.00
    connection = warehouse(tmp_path / "w.duckdb", journal=journal_rows(1) + unbalanced + journal_rows(3))
    mapping = JOURNAL.model_copy(update={"max_attempts": 2})

    runs = [run_sync(connection, _destination(emulator), "journal_entries", mapping) for _ in range(3)]

    assert [(r.succeeded, r.failed, r.dead_lettered, r.held_dead_letters, r.outcome) for r in runs] == [
        (2, 1, 0, 0, "refused"), (0, 1, 1, 0, "refused"), (0, 0, 0, 1, "refused")]
    [(status, attempts, error)] = connection.execute(
        "select status, attempts, last_error from reverse_etl.sync_ledger where status <> 'synced'").fetchall()
    assert (status, attempts) == ("dead_letter", 2)
    assert error == "This transaction is not in balance: debits 100.00 do not equal credits 99.99."
    assert set(held_counts(emulator, "journalentry", "je:T")) == {
        "je:T0001:revenue_recognition:2026-08", "je:T0003:revenue_recognition:2026-08"}


@pytest.mark.parametrize("object_name, fault", [
    ("journal_entries", {"kind": "drop", "method": "PUT", "path_contains": "/journalentry/"}),
    ("journal_entries", {"kind": "status", "status": 503, "method": "PUT", "path_contains": "/journalentry/"}),
    # A whole batch refused: no record of it is refused by that.
    ("usage_records", {"kind": "status", "status": 400, "method": "PUT", "path_contains": "/record/v1/usage"}),
], ids=["entries-dropped", "entries-503", "batch-400"])
def test_transport_and_request_level_errors_never_dead_letter(tmp_path, emulator, object_name, fault):
    connection = warehouse(tmp_path / "w.duckdb", usage=[usage_row(n) for n in range(1, 4)],
                           journal=[row for n in range(1, 4) for row in journal_rows(n)])
    mapping = MAPPING.objects[object_name].model_copy(update={"max_attempts": 1})
    for _ in range(2):
        emulator.arm_fault(count=30, **fault)  # every attempt of every pass
        result = run_sync(connection, _destination(emulator), object_name, mapping)
        assert (result.retry, result.failed, result.dead_lettered, result.outcome) == (3, 0, 0, "incomplete")
        emulator.control("DELETE", "faults")
    assert connection.execute("select status, max(attempts) from reverse_etl.sync_ledger group by 1").fetchall() == [
        ("retry", 0)]
    cleared = run_sync(connection, _destination(emulator), object_name, mapping)
    assert (cleared.succeeded, cleared.outcome) == (3, "complete")
    prefix, record_type = ("je:T", "journalentry") if object_name == "journal_entries" else ("usage:test:", "usage")
    _assert_exactly_once(emulator, record_type, prefix, 3)
