"""Salesforce syncs when answers are lost after Salesforce applied the write, and which failures
count toward dead-lettering: run through the engine and its ledger against the emulator, the
records counted with SOQL."""
from __future__ import annotations

import math
from decimal import Decimal

import duckdb
import pytest

from meterledger.connections.salesforce import SalesforceConnection
from reverse_etl.engine import run_sync
from reverse_etl.salesforce import SalesforceDestination
from tests.emulators.salesforce_fixtures import (  # noqa: F401 - fixtures
    ACCOUNT_1, CLIENT_ID, CLIENT_SECRET, VERSION, SfClient, sf, sf_certificates, sf_seed_file, sf_server,
)
from tests.reverse_etl.test_engine import usage_summaries_warehouse
from tests.reverse_etl.test_salesforce_destination import NO_SUCH_ACCOUNT, USAGE

PREFIX = "fault:"


def _warehouse(tmp_path, count: int, bad: set[int] = frozenset()) -> duckdb.DuckDBPyConnection:
    return usage_summaries_warehouse(tmp_path, count, prefix=PREFIX, accounts={n: NO_SUCH_ACCOUNT for n in bad})


@pytest.fixture
def connection(sf: SfClient) -> SalesforceConnection:
    return SalesforceConnection(sf.base_url, CLIENT_ID, CLIENT_SECRET, api_version=VERSION,
                                ca_bundle=sf.ca_bundle, timeout=10, max_attempts=3)


def _destination(connection: SalesforceConnection, **options) -> SalesforceDestination:
    return SalesforceDestination(connection, bulk_poll_interval=0.05, **options)


def _held(connection: SalesforceConnection) -> dict[str, list[Decimal]]:
    """External ID -> the quantity of every Usage_Summary__c holding it (SOQL)."""
    held: dict[str, list[Decimal]] = {}
    for record in connection.query("SELECT External_Id__c, Quantity__c FROM Usage_Summary__c "
                                   f"WHERE External_Id__c LIKE '{PREFIX}%'"):
        held.setdefault(record["External_Id__c"], []).append(Decimal(str(record["Quantity__c"])))
    return held


def _ledger(warehouse) -> dict[str, int]:
    return dict(warehouse.execute("select status, count(*) from reverse_etl.sync_ledger group by 1").fetchall())


def _assert_each_once(connection, count: int) -> None:
    held = _held(connection)
    assert len(held) == count  # none missing
    assert all(len(values) == 1 for values in held.values())  # none twice
    assert held[f"{PREFIX}{count:04d}"] == [Decimal(f"{count}.125")]


@pytest.mark.parametrize("fault, where", [
    ({"method": "PUT", "path_contains": "/batches"}, "the upload"),
    ({"method": "PATCH", "path_contains": "/jobs/ingest/"}, "the job close"),
], ids=["bulk-upload", "bulk-close"])
def test_a_bulk_answer_lost_after_salesforce_applied_it_ends_with_every_record_once(
        tmp_path, sf, connection, fault, where):
    warehouse = _warehouse(tmp_path, 120)
    sf.arm(kind="drop_after_apply", **fault)

    first = run_sync(warehouse, _destination(connection, bulk_threshold=50), "usage_summaries", USAGE)

    assert sf.control("GET", "state").json()["faults_pending"] == 0  # the answer to {where} was dropped
    assert (first.succeeded, first.failed, first.retry, first.unknown, first.dead_lettered) == (120, 0, 0, 0, 0)
    assert first.outcome == "complete"
    # One job did it: the job's own state settled the lost answer; nothing was uploaded twice.
    assert list(sf.control("GET", "state").json()["bulk_jobs"].values()) == ["JobComplete"]
    _assert_each_once(connection, 120)
    assert _ledger(warehouse) == {"synced": 120}
    again = run_sync(warehouse, _destination(connection, bulk_threshold=50), "usage_summaries", USAGE)
    assert (again.unchanged, again.sent) == (120, 0)


def test_a_bulk_upload_that_never_arrived_goes_in_a_new_job(tmp_path, sf, connection):
    warehouse = _warehouse(tmp_path, 80)
    # Dropped before it was applied: the client cannot tell this from a lost answer.
    sf.arm(kind="drop", method="PUT", path_contains="/batches")

    result = run_sync(warehouse, _destination(connection, bulk_threshold=50), "usage_summaries", USAGE)

    assert (result.succeeded, result.retry, result.unknown, result.failed) == (80, 0, 0, 0)
    # The first job was closed without data and failed; the records went in a second job.
    assert sorted(sf.control("GET", "state").json()["bulk_jobs"].values()) == ["Failed", "JobComplete"]
    _assert_each_once(connection, 80)


def test_a_collections_answer_lost_after_salesforce_applied_it_is_read_back_not_resent(tmp_path, sf, connection):
    warehouse = _warehouse(tmp_path, 250)
    sf.arm(kind="drop_after_apply", method="PATCH", path_contains="/composite/sobjects")
    sf.control("DELETE", "requests")

    result = run_sync(warehouse, _destination(connection), "usage_summaries", USAGE)

    assert (result.succeeded, result.failed, result.retry, result.unknown) == (250, 0, 0, 0)
    assert result.confirmed_by_read_back == 200  # the first call's records, found as sent
    writes = [r for r in sf.control("GET", "requests").json()["requests"] if r["write"]]
    assert len(writes) == 2  # two Collections calls: the lost one was not sent again
    _assert_each_once(connection, 250)


def test_a_collections_call_that_never_arrived_is_sent_again_in_the_same_run(tmp_path, sf, connection):
    warehouse = _warehouse(tmp_path, 30)
    sf.arm(kind="drop", method="PATCH", path_contains="/composite/sobjects")

    result = run_sync(warehouse, _destination(connection), "usage_summaries", USAGE)

    assert (result.succeeded, result.retry, result.unknown, result.confirmed_by_read_back) == (30, 0, 0, 0)
    _assert_each_once(connection, 30)


def test_a_record_refused_is_dead_lettered_after_max_attempts_with_salesforce_s_message(tmp_path, sf, connection):
    warehouse = _warehouse(tmp_path, 10, bad={7})
    mapping = USAGE.model_copy(update={"max_attempts": 2})
    runs = [run_sync(warehouse, _destination(connection), "usage_summaries", mapping) for _ in range(3)]

    assert [(r.succeeded, r.failed, r.dead_lettered, r.held_dead_letters) for r in runs] == [
        (9, 1, 0, 0), (0, 1, 1, 0), (0, 0, 0, 1)]
    assert [r.outcome for r in runs] == ["refused"] * 3
    [(status, attempts, error)] = warehouse.execute(
        "select status, attempts, last_error from reverse_etl.sync_ledger where status <> 'synced'").fetchall()
    assert (status, attempts) == ("dead_letter", 2)
    assert error == f"INVALID_CROSS_REFERENCE_KEY: invalid cross reference id: {NO_SUCH_ACCOUNT} (Account__c)"
    assert len(_held(connection)) == 9


@pytest.mark.parametrize("fault", [
    {"kind": "status", "status": 503, "method": "PATCH", "path_contains": "/composite/sobjects"},
    {"kind": "drop", "method": "PATCH", "path_contains": "/composite/sobjects"},
], ids=["server-errors", "dropped-connections"])
def test_transport_and_server_errors_never_dead_letter(tmp_path, sf, connection, fault):
    warehouse = _warehouse(tmp_path, 5)
    mapping = USAGE.model_copy(update={"max_attempts": 1})
    for run in range(3):
        sf.arm(**fault, count=10)  # every attempt of every pass fails
        result = run_sync(warehouse, _destination(connection), "usage_summaries", mapping)
        assert (result.retry, result.failed, result.dead_lettered) == (5, 0, 0), run
        assert result.outcome == "incomplete"
        sf.control("DELETE", "faults")
    assert _ledger(warehouse) == {"retry": 5}
    assert warehouse.execute("select max(attempts) from reverse_etl.sync_ledger").fetchone() == (0,)
    cleared = run_sync(warehouse, _destination(connection), "usage_summaries", mapping)
    assert (cleared.succeeded, cleared.outcome) == (5, "complete")
    _assert_each_once(connection, 5)


def test_a_job_level_error_never_dead_letters(tmp_path, sf, connection):
    warehouse = _warehouse(tmp_path, 60)
    # A Bulk job that fails as a whole (a field Salesforce does not know): no record is refused.
    mapping = USAGE.model_copy(update={"max_attempts": 1, "fields": {
        **USAGE.fields, "status": USAGE.fields["status"].model_copy(update={"field": "Bogus__c"})}})
    for _ in range(2):
        result = run_sync(warehouse, _destination(connection, bulk_threshold=50), "usage_summaries", mapping)
        assert (result.retry, result.failed, result.dead_lettered, result.outcome) == (60, 0, 0, "incomplete")
    assert _ledger(warehouse) == {"retry": 60}
    [(error,)] = warehouse.execute("select distinct last_error from reverse_etl.sync_ledger").fetchall()
    assert "ended Failed without a result for this record: InvalidBatch : Field name not found : Bogus__c" in error
    assert _held(connection) == {}


def test_records_left_in_doubt_are_resolved_with_one_soql_query_per_200(tmp_path, sf, connection):
    warehouse = _warehouse(tmp_path, 450)
    run_sync(warehouse, _destination(connection), "usage_summaries", USAGE)
    # As a run killed after Salesforce applied its writes leaves them: written ahead, no outcome.
    warehouse.execute("update reverse_etl.sync_ledger set status = 'sending', synced_hash = null")
    sf.control("DELETE", "requests")

    rerun = run_sync(warehouse, _destination(connection), "usage_summaries", USAGE)

    assert (rerun.confirmed_by_read_back, rerun.sent, rerun.failed, rerun.retry) == (450, 0, 0, 0)
    requests_made = sf.control("GET", "requests").json()["requests"]
    assert not [r for r in requests_made if r["write"]]
    queries = [r for r in requests_made if "/query" in r["path"]]
    assert len(queries) <= math.ceil(450 / 200)
    _assert_each_once(connection, 450)
