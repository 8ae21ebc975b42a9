"""The generic sync flow: plan (diff against the ledger) -> send -> record.

Destinations supply only their calls (send, read back); the plan, the ledger and the rules about
what is sent are the same for all of them, and a dry run goes through the very same planning code
as a live run, stopping before the first request that writes.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import groupby
from typing import Any, Callable, Literal, Sequence

import duckdb
import simplejson

from reverse_etl.ledger import LedgerEntry, SyncLedger, SyncResult
from reverse_etl.mapping import BLOCKED_REASON_COLUMN, SYNC_SCHEMA, MappingError, ObjectMapping
from reverse_etl.protocol import Destination, RecordOutcome, SendItem, SyncStopped
from reverse_etl.readback import payload_matches

log = logging.getLogger(__name__)

Action = Literal["create", "update", "unchanged", "blocked"]
Progress = Callable[[int, int], None]
FLUSH_RECORDS = 1000
FLUSH_SECONDS = 1.0


def payload_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(simplejson.dumps(payload, use_decimal=True, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class PlannedRecord:
    external_id: str
    action: Action
    reason: str | None
    payload: dict[str, Any] | None
    payload_hash: str | None
    in_doubt: bool = False  # written ahead by a run that did not record the outcome


@dataclass(frozen=True)
class SyncPlan:
    destination: str
    object_name: str
    records: list[PlannedRecord]

    def counts(self) -> Counter:
        return Counter(record.action for record in self.records)

    def to_send(self) -> list[PlannedRecord]:
        return [record for record in self.records if record.action in ("create", "update")]


def model_columns(connection: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """Columns of every sync model in the warehouse, for the mapping's start-up check."""
    rows = connection.execute(
        "select table_name, column_name from information_schema.columns where table_schema = ?",
        [SYNC_SCHEMA]).fetchall()
    columns: dict[str, set[str]] = {}
    for table, column in rows:
        columns.setdefault(table, set()).add(column)
    return columns


def _rows_by_record(connection: duckdb.DuckDBPyConnection, mapping: ObjectMapping,
                    blocked_column: bool) -> list[tuple[str, list[dict[str, Any]]]]:
    columns = sorted(mapping.columns() | ({BLOCKED_REASON_COLUMN} if blocked_column else set()))
    order = f", {mapping.sublist.order_by}" if mapping.sublist else ""
    cursor = connection.execute(
        f"select {', '.join(columns)} from {SYNC_SCHEMA}.{mapping.model} order by {mapping.key}{order}")
    names = [description[0] for description in cursor.description]
    rows = (dict(zip(names, values)) for values in cursor.fetchall())
    return [(str(key), list(group)) for key, group in groupby(rows, key=lambda row: row[mapping.key])]


def _classify(external_id: str, rows: list[dict[str, Any]], mapping: ObjectMapping,
              entry: LedgerEntry | None, retry_dead_letters: bool) -> PlannedRecord:
    try:
        payload = mapping.payload(rows)
    except MappingError as error:
        return PlannedRecord(external_id, "blocked", str(error), None, None)
    digest = payload_hash(payload)
    if entry is not None and entry.synced_hash == digest:
        return PlannedRecord(external_id, "unchanged", None, payload, digest)
    reason = next((row.get(BLOCKED_REASON_COLUMN) for row in rows if row.get(BLOCKED_REASON_COLUMN)), None)
    if reason:
        return PlannedRecord(external_id, "blocked", reason, payload, digest)
    if (entry is not None and entry.status == "dead_letter" and entry.payload_hash == digest
            and not retry_dead_letters):
        return PlannedRecord(external_id, "blocked",
                             f"dead-lettered after {entry.attempts} attempts: {entry.last_error}", payload, digest)
    action: Action = "update" if entry is not None and entry.synced_hash is not None else "create"
    return PlannedRecord(external_id, action, None, payload, digest,
                         in_doubt=entry is not None and entry.status == "sending")


def plan_sync(connection: duckdb.DuckDBPyConnection, ledger: SyncLedger, destination: str, object_name: str,
              mapping: ObjectMapping, *, retry_dead_letters: bool = False) -> SyncPlan:
    """Every record of the sync model, classified against the ledger: create, update, unchanged
    or blocked (with the reason)."""
    blocked_column = BLOCKED_REASON_COLUMN in model_columns(connection).get(mapping.model, set())
    entries = ledger.entries(destination, object_name)
    records = [_classify(external_id, rows, mapping, entries.get(external_id), retry_dead_letters)
               for external_id, rows in _rows_by_record(connection, mapping, blocked_column)]
    return SyncPlan(destination, object_name, records)


def run_sync(connection: duckdb.DuckDBPyConnection, destination: Destination, object_name: str,
             mapping: ObjectMapping, *, run_id: str | None = None, dry_run: bool = False,
             retry_dead_letters: bool = False, progress: Progress | None = None) -> SyncResult:
    """Plan, then (unless ``dry_run``) send what changed and record every outcome."""
    run_id = run_id or uuid.uuid4().hex
    started_at = datetime.now(timezone.utc).replace(tzinfo=None)
    ledger = SyncLedger(connection)
    plan = plan_sync(connection, ledger, destination.name, object_name, mapping,
                     retry_dead_letters=retry_dead_letters)
    counts = plan.counts()
    result = SyncResult(destination.name, object_name, run_id, dry_run=dry_run, planned=len(plan.records),
                        to_create=counts["create"], to_update=counts["update"], unchanged=counts["unchanged"],
                        blocked=counts["blocked"])
    ledger.write_plan(run_id, destination.name, object_name,
                      [(r.external_id, r.action, r.reason, r.payload_hash) for r in plan.records])
    if not dry_run:
        _send(ledger, destination, object_name, mapping, plan, result, progress)
    ledger.record_run(result, started_at)
    return result


def _send(ledger: SyncLedger, destination: Destination, object_name: str, mapping: ObjectMapping,
          plan: SyncPlan, result: SyncResult, progress: Progress | None) -> None:
    to_send = plan.to_send()
    hashes = {record.external_id: record.payload_hash for record in to_send}
    total, done = len(to_send), 0

    buffered: list[RecordOutcome] = []
    last_flush = time.monotonic()
    lock = threading.Lock()

    def flush() -> None:
        nonlocal done, last_flush
        outcomes = buffered[:]
        buffered.clear()
        last_flush = time.monotonic()
        dead = ledger.record(destination.name, object_name, result.run_id, outcomes, hashes, mapping.max_attempts)
        for outcome in outcomes:
            if outcome.status == "synced":
                result.succeeded += 1
            elif outcome.status == "retry":
                result.retry += 1
            else:
                result.failed += 1
                if len(result.errors) < 100:
                    result.errors.append(f"{outcome.external_id}: {outcome.error}")
        result.dead_lettered += len(dead)
        done += len(outcomes)
        if progress and outcomes:
            progress(done, total)

    def report(outcomes: Sequence[RecordOutcome]) -> None:
        # Outcomes reach the ledger in batches (one statement per batch, not per record). Until
        # then the records stay "sending", which a run that dies here resolves by reading back.
        with lock:
            buffered.extend(outcomes)
            if len(buffered) >= FLUSH_RECORDS or time.monotonic() - last_flush >= FLUSH_SECONDS:
                flush()

    # A record written ahead by a run that died may be in the destination already: read it back
    # and send it only if it is absent or different.
    in_doubt = [record for record in to_send if record.in_doubt]
    if in_doubt:
        held = destination.read_back(mapping, [record.external_id for record in in_doubt])
        confirmed = [RecordOutcome(record.external_id, "synced", held[record.external_id].remote_id)
                     for record in in_doubt
                     if record.external_id in held and payload_matches(record.payload, held[record.external_id].fields)]
        result.confirmed_by_read_back = len(confirmed)
        report(confirmed)
        with lock:
            flush()
        confirmed_ids = {outcome.external_id for outcome in confirmed}
        to_send = [record for record in to_send if record.external_id not in confirmed_ids]

    items = [SendItem(record.external_id, record.payload, record.payload_hash) for record in to_send]
    ledger.mark_sending(destination.name, object_name, result.run_id, [(i.external_id, i.payload_hash) for i in items])
    reported: set[str] = set()

    def report_and_remember(outcomes: Sequence[RecordOutcome]) -> None:
        reported.update(outcome.external_id for outcome in outcomes)
        report(outcomes)

    try:
        destination.send(mapping, items, report_and_remember)
    except SyncStopped as stop:
        with lock:
            flush()
        result.status, result.stop_reason = "stopped", str(stop)
        unsent = [item.external_id for item in items if item.external_id not in reported]
        ledger.release(destination.name, object_name, unsent, f"not sent: {stop}")
        log.warning("%s %s: sync stopped after %s of %s records: %s", destination.name, object_name,
                    len(reported), len(items), stop)
    finally:
        with lock:
            flush()
    result.sent = len(reported)
