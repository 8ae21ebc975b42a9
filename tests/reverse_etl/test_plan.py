"""The plan, computed in the warehouse: each record's content hash, the required value it leaves
empty, the model's blocking reason and its ledger entry decide create / update / unchanged /
blocked. No destination is involved: these are dry runs against a DuckDB warehouse."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest

from reverse_etl.engine import PlannedItems, plan_sync, run_sync
from reverse_etl.ledger import SyncLedger
from reverse_etl.mapping import load_mapping
from reverse_etl.protocol import RecordOutcome

MAPPING = load_mapping("netsuite")
USAGE = MAPPING.objects["usage_records"]
JOURNAL = MAPPING.objects["journal_entries"]


@pytest.fixture
def warehouse(tmp_path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(tmp_path / "plan.duckdb"))
    connection.execute("create schema reverse_etl_sync")
    connection.execute("""create table reverse_etl_sync.sync_netsuite__usage_records (
        external_id varchar, customer_id varchar, subscription_id varchar, subscription_line_id varchar,
        usage_quantity decimal(38, 9), usage_date date, memo varchar, sync_blocked_reason varchar)""")
    connection.executemany(
        "insert into reverse_etl_sync.sync_netsuite__usage_records values (?, ?, ?, ?, ?, ?, ?, ?)", [
            ("u:1", "7", "40", "50", Decimal("12.500000000"), date(2026, 8, 1), "first", None),
            ("u:2", "7", "40", "50", Decimal("3.000000001"), date(2026, 8, 2), None, None),
            ("u:3", None, "40", "50", Decimal("1"), date(2026, 8, 3), None, None),
            ("u:4", "7", "40", "50", Decimal("1"), date(2026, 9, 1), None, "billing period 2026-09 is not final"),
        ])
    connection.execute("""create table reverse_etl_sync.sync_netsuite__journal_entries (
        external_id varchar, subsidiary_id varchar, currency_id varchar, transaction_date date,
        posting_period_id varchar, memo varchar, line_number integer, account_id varchar,
        debit decimal(38, 2), credit decimal(38, 2), entity_id varchar, line_memo varchar,
        credit_block_id varchar)""")
    connection.executemany(
        "insert into reverse_etl_sync.sync_netsuite__journal_entries values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            ("je:1", "1", "1", date(2026, 8, 31), "101", "rev", 2, "400", Decimal("0"), Decimal("10.00"), "7", None, None),
            ("je:1", "1", "1", date(2026, 8, 31), "101", "rev", 1, "250", Decimal("10.00"), Decimal("0"), "7", None, None),
            ("je:2", "1", "1", date(2026, 8, 31), "101", "rev", 1, "250", Decimal("5.00"), Decimal("0"), "7", None, None),
            ("je:2", "1", "1", date(2026, 8, 31), "101", "rev", 2, None, Decimal("0"), Decimal("5.00"), "7", None, None),
        ])
    return connection


def _plan(warehouse, mapping=USAGE, name="usage_records", **options):
    plan = plan_sync(warehouse, SyncLedger(warehouse), "netsuite", name, mapping, **options)
    return {record.external_id: (record.action, record.reason) for record in plan.records}, plan


def _record_synced(warehouse, plan, name="usage_records", status="synced", error=None) -> None:
    hashes = {record.external_id: record.payload_hash for record in plan.to_send()}
    SyncLedger(warehouse).record("netsuite", name, "run-1",
                                 [RecordOutcome(external_id, status, "9", error) for external_id in hashes],
                                 hashes, max_attempts=1)


def test_a_first_plan_creates_what_can_be_sent_and_names_why_the_rest_cannot(warehouse):
    actions, _ = _plan(warehouse)

    assert actions == {
        "u:1": ("create", None),
        "u:2": ("create", None),
        "u:3": ("blocked", "sync_netsuite__usage_records row 'u:3': required column 'customer_id' is empty"),
        "u:4": ("blocked", "billing period 2026-09 is not final"),
    }


def test_a_required_line_value_left_empty_names_the_entry_and_its_line(warehouse):
    actions, _ = _plan(warehouse, JOURNAL, "journal_entries")

    assert actions == {
        "je:1": ("create", None),
        "je:2": ("blocked", "sync_netsuite__journal_entries row 'je:2' line 2: required column 'account_id' is empty"),
    }


def test_only_changed_content_is_planned_again(warehouse):
    _, plan = _plan(warehouse)
    _record_synced(warehouse, plan)
    warehouse.execute("update reverse_etl_sync.sync_netsuite__usage_records set usage_quantity = 12.51 "
                      "where external_id = 'u:1'")

    actions, _ = _plan(warehouse)

    assert actions["u:1"] == ("update", None)
    assert actions["u:2"] == ("unchanged", None)


def test_a_changed_mapping_plans_every_synced_record_again(warehouse):
    _, plan = _plan(warehouse)
    _record_synced(warehouse, plan)
    renamed = USAGE.model_copy(update={"fields": {**USAGE.fields, "memo": USAGE.fields["memo"].model_copy(
        update={"field": "custrecord_memo"})}})

    actions, _ = _plan(warehouse, renamed)

    assert (actions["u:1"], actions["u:2"]) == (("update", None), ("update", None))


def test_the_line_order_of_a_journal_entry_is_part_of_its_content_not_the_row_order(warehouse):
    _, first = _plan(warehouse, JOURNAL, "journal_entries")
    # The same lines inserted in the other order: the same content, the same hash.
    warehouse.execute("""create table reordered as select * from reverse_etl_sync.sync_netsuite__journal_entries
                         order by line_number desc""")
    warehouse.execute("delete from reverse_etl_sync.sync_netsuite__journal_entries")
    warehouse.execute("insert into reverse_etl_sync.sync_netsuite__journal_entries select * from reordered")

    _, second = _plan(warehouse, JOURNAL, "journal_entries")

    assert [r.payload_hash for r in first.records] == [r.payload_hash for r in second.records]


def test_a_dead_letter_waits_for_new_content_or_the_retry_option(warehouse):
    _, plan = _plan(warehouse)
    _record_synced(warehouse, plan, status="failed", error="Invalid usageQuantity")

    actions, _ = _plan(warehouse)
    retried, _ = _plan(warehouse, retry_dead_letters=True)

    assert actions["u:1"] == ("blocked", "dead-lettered after 1 attempts: Invalid usageQuantity")
    assert retried["u:1"] == ("create", None)


def test_payloads_are_built_from_the_model_rows_when_taken(warehouse):
    _, plan = _plan(warehouse, JOURNAL, "journal_entries")
    items = PlannedItems(warehouse, JOURNAL, plan.to_send())

    [entry] = items[0:1]

    assert len(items) == 1 and entry.external_id == "je:1"
    assert entry.payload["line"]["items"] == [
        {"account": {"id": "250"}, "debit": Decimal("10"), "entity": {"id": "7"}},
        {"account": {"id": "400"}, "credit": Decimal("10"), "entity": {"id": "7"}},
    ]
    assert entry.payload["tranDate"] == "2026-08-31" and entry.payload_hash == plan.to_send()[0].payload_hash


def test_a_dry_run_writes_the_plan_and_nothing_else(warehouse):
    result = run_sync(warehouse, destination=_NoDestination(), object_name="usage_records", mapping=USAGE,
                      dry_run=True)

    planned = warehouse.execute("select external_id, action from reverse_etl.sync_plan order by 1").fetchall()
    assert planned == [("u:1", "create"), ("u:2", "create"), ("u:3", "blocked"), ("u:4", "blocked")]
    assert (result.to_create, result.blocked, result.sent) == (2, 2, 0)
    assert warehouse.execute("select count(*) from reverse_etl.sync_ledger").fetchone() == (0,)


class _NoDestination:
    name = "netsuite"

    def send(self, *arguments):  # pragma: no cover - a dry run must not get here
        raise AssertionError("a dry run sent something")

    def read_back(self, *arguments):  # pragma: no cover
        raise AssertionError("a dry run read something back")
