"""The generic sync flow: plan (diff against the ledger) -> send -> record.

Destinations supply only their calls (send, read back); the plan, the ledger and the rules about
what is sent are the same for all of them, and a dry run goes through the very same planning code
as a live run, stopping before the first request that writes.
"""
from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Literal, Sequence

import duckdb
import pyarrow as pa

from reverse_etl.ledger import SCHEMA as LEDGER_SCHEMA
from reverse_etl.ledger import SyncLedger, SyncResult
from reverse_etl.mapping import BLOCKED_REASON_COLUMN, SYNC_SCHEMA, ObjectMapping
from reverse_etl.outcomes import REQUEST_ERRORS, describe
from reverse_etl.protocol import Destination, RecordOutcome, SendItem, SyncStopped
from reverse_etl.readback import held_as_sent

log = logging.getLogger(__name__)

Action = Literal["create", "update", "unchanged", "blocked"]
# Why a record is blocked: its sync model holds it (not due yet), a required value is missing, or
# the destination refused it max_attempts times (dead-lettered).
BlockKind = Literal["held", "missing", "dead_letter"]
Progress = Callable[[int, int], None]
FLUSH_RECORDS = 1000
FLUSH_SECONDS = 1.0
# Records whose answers were lost and that the read-back does not find are sent again this many
# times in the same run (then left to the next run).
RESEND_PASSES = 1
# Bump when the content hash changes how it reads rows: every record is then sent once more.
HASH_FORMAT = "rows-v1"


@dataclass(frozen=True)
class PlannedRecord:
    external_id: str
    action: Action
    reason: str | None
    payload_hash: str | None
    in_doubt: bool = False  # written ahead by a run that did not record the outcome, or unknown
    block: BlockKind | None = None


@dataclass(frozen=True)
class SyncPlan:
    destination: str
    object_name: str
    records: list[PlannedRecord]

    def counts(self) -> Counter:
        return Counter(record.action for record in self.records)

    def blocks(self) -> Counter:
        return Counter(record.block for record in self.records if record.block)

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


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def mapping_fingerprint(mapping: ObjectMapping) -> str:
    """Part of every content hash: a changed mapping (a field renamed, a type changed) changes
    what is sent, so every record of the object is planned again."""
    return hashlib.sha256(f"{HASH_FORMAT}\n{mapping.model_dump_json()}".encode()).hexdigest()


def _missing_required(mapping: ObjectMapping, label: str) -> str:
    """SQL naming the first required column a record leaves empty (NULL when none is)."""
    checks = [f"when bool_or({column} is null) then {_sql_text(f': required column {column!r} is empty')}"
              for column, field in mapping.fields.items() if field.required]
    if mapping.sublist:
        order_by = mapping.sublist.order_by
        checks += [f"when bool_or({column} is null) then ' line ' || "
                   f"(min({order_by}) filter (where {column} is null))::varchar || "
                   f"{_sql_text(f': required column {column!r} is empty')}"
                   for column, field in mapping.sublist.fields.items() if field.required]
    if not checks:
        return "null"
    return f"{_sql_text(mapping.model + ' row ')} || {label} || (case {' '.join(checks)} end)"


def _plan_query(mapping: ObjectMapping, blocked_column: bool) -> str:
    """The plan of an object, computed in the warehouse: every record of its sync model with the
    hash of its content (the mapping's fingerprint and the mapped columns of all its rows, as
    text), the first required column it leaves empty, the reason the model blocks it, and its
    ledger entry. Only the records to send ever reach Python, and only when they are sent."""
    columns = sorted(mapping.columns())
    row_text = f"to_json(list_value({', '.join(f'{column}::varchar' for column in columns)}))"
    order = f"{mapping.sublist.order_by}, " if mapping.sublist else ""
    blocked = f"min(nullif({BLOCKED_REASON_COLUMN}, ''))" if blocked_column else "null::varchar"
    key = f"{mapping.key}::varchar"
    return f"""
        with model as (
            select
                {key} as external_id,
                sha256($fingerprint || string_agg({row_text}, chr(10) order by {order}{row_text})) as payload_hash,
                {_missing_required(mapping, f"chr(39) || {key} || chr(39)")} as missing,
                {blocked} as blocked_reason
            from {SYNC_SCHEMA}.{mapping.model}
            group by {key}
        ),
        ledger as (
            select * from {LEDGER_SCHEMA}.sync_ledger where destination = $destination and object_name = $object
        )
        select
            model.external_id,
            case
                when model.missing is not null then 'blocked'
                when ledger.synced_hash = model.payload_hash then 'unchanged'
                when model.blocked_reason is not null then 'blocked'
                when ledger.status = 'dead_letter' and ledger.payload_hash = model.payload_hash
                     and not $retry_dead_letters then 'blocked'
                when ledger.synced_hash is not null then 'update'
                else 'create'
            end as action,
            case
                when model.missing is not null then model.missing
                when ledger.synced_hash = model.payload_hash then null
                when model.blocked_reason is not null then model.blocked_reason
                when ledger.status = 'dead_letter' and ledger.payload_hash = model.payload_hash
                     and not $retry_dead_letters
                    then 'dead-lettered after ' || ledger.attempts || ' attempts: ' || coalesce(ledger.last_error, '')
            end as reason,
            case when model.missing is null then model.payload_hash end as payload_hash,
            coalesce(ledger.status in ('sending', 'unknown'), false) as in_doubt,
            case
                when model.missing is not null then 'missing'
                when ledger.synced_hash = model.payload_hash then null
                when model.blocked_reason is not null then 'held'
                when ledger.status = 'dead_letter' and ledger.payload_hash = model.payload_hash
                     and not $retry_dead_letters then 'dead_letter'
            end as block
        from model left join ledger using (external_id)
        order by model.external_id
    """


def plan_sync(connection: duckdb.DuckDBPyConnection, ledger: SyncLedger, destination: str, object_name: str,
              mapping: ObjectMapping, *, retry_dead_letters: bool = False) -> SyncPlan:
    """Every record of the sync model, classified against the ledger (``ledger`` has made its
    tables): create, update, unchanged or blocked (with the reason)."""
    blocked_column = BLOCKED_REASON_COLUMN in model_columns(connection).get(mapping.model, set())
    rows = connection.execute(_plan_query(mapping, blocked_column), {
        "fingerprint": mapping_fingerprint(mapping), "destination": destination, "object": object_name,
        "retry_dead_letters": retry_dead_letters}).fetchall()
    records = [PlannedRecord(external_id, action, reason, digest, in_doubt and action in ("create", "update"), block)
               for external_id, action, reason, digest, in_doubt, block in rows]
    return SyncPlan(destination, object_name, records)


class PlannedItems(SequenceABC):
    """The records to send as ``SendItem``s. A thread of its own reads their rows from the sync
    model and builds their payloads a chunk at a time, in order, from the moment it is made: the
    first request leaves as soon as the first chunk is ready, and a destination taking a record
    waits only if it overtakes the builder."""

    CHUNK = 1000

    def __init__(self, connection: duckdb.DuckDBPyConnection, mapping: ObjectMapping,
                 records: Sequence[PlannedRecord]) -> None:
        self.mapping = mapping
        self.records = list(records)
        # A cursor of its own, made here, used by the builder thread only: the ledger writes on
        # the shared connection meanwhile.
        self._cursor = connection.cursor()
        count = -(-len(self.records) // self.CHUNK)
        self._chunks: list[list[SendItem]] = [[] for _ in range(count)]
        self._built = [threading.Event() for _ in range(count)]
        self._errors: dict[int, BaseException] = {}
        self._stopped = threading.Event()
        self._builder = threading.Thread(target=self._build_all, name="sync-payloads", daemon=True)
        self._builder.start()

    def finish(self) -> None:
        """Stop building (a sync that stopped early) and wait, so nothing touches the warehouse
        after the sync."""
        self._stopped.set()
        self._builder.join()

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[position] for position in range(*index.indices(len(self)))]
        index = range(len(self))[index]
        number = index // self.CHUNK
        self._built[number].wait()
        if number in self._errors:
            raise self._errors[number]
        return self._chunks[number][index % self.CHUNK]

    def _build_all(self) -> None:
        for number, built in enumerate(self._built):
            try:
                if self._stopped.is_set():
                    raise RuntimeError("the sync ended before this record's payload was built")
                records = self.records[number * self.CHUNK:(number + 1) * self.CHUNK]
                rows = self._rows([record.external_id for record in records])
                self._chunks[number] = [SendItem(record.external_id, self.mapping.payload(rows[record.external_id]),
                                                 record.payload_hash) for record in records]
            except BaseException as error:  # noqa: BLE001 - raised where the record is taken
                self._errors[number] = error
            finally:
                built.set()
        self._cursor.close()

    def _rows(self, external_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        mapping = self.mapping
        columns = sorted(mapping.columns())
        order = f", {mapping.sublist.order_by}" if mapping.sublist else ""
        cursor = self._cursor
        cursor.register("records_to_send", pa.table({"external_id": pa.array(external_ids, pa.string())}))
        table = cursor.sql(
            f"select {', '.join(columns)} from {SYNC_SCHEMA}.{mapping.model} "
            f"where {mapping.key}::varchar in (select external_id from records_to_send) "
            f"order by {mapping.key}::varchar{order}").to_arrow_table()
        cursor.unregister("records_to_send")
        rows: dict[str, list[dict[str, Any]]] = {}
        for row in table.to_pylist():
            rows.setdefault(str(row[mapping.key]), []).append(row)
        return rows


def run_sync(connection: duckdb.DuckDBPyConnection, destination: Destination, object_name: str,
             mapping: ObjectMapping, *, run_id: str | None = None, dry_run: bool = False,
             retry_dead_letters: bool = False, progress: Progress | None = None) -> SyncResult:
    """Plan, then (unless ``dry_run``) send what changed and record every outcome."""
    run_id = run_id or uuid.uuid4().hex
    started_at = datetime.now(timezone.utc).replace(tzinfo=None)
    ledger = SyncLedger(connection)
    plan = plan_sync(connection, ledger, destination.name, object_name, mapping,
                     retry_dead_letters=retry_dead_letters)
    counts, blocks = plan.counts(), plan.blocks()
    result = SyncResult(destination.name, object_name, run_id, dry_run=dry_run, planned=len(plan.records),
                        to_create=counts["create"], to_update=counts["update"], unchanged=counts["unchanged"],
                        blocked=counts["blocked"], held_dead_letters=blocks["dead_letter"],
                        missing_values=blocks["missing"])
    ledger.write_plan(run_id, destination.name, object_name,
                      [(r.external_id, r.action, r.reason, r.payload_hash) for r in plan.records])
    if not dry_run:
        _send(ledger, destination, object_name, mapping, plan, result, progress)
    ledger.record_run(result, started_at)
    return result


class _OutcomeRecorder:
    """Writes outcomes to the ledger from a thread of its own, in batches (one statement per
    ``FLUSH_RECORDS`` outcomes or ``FLUSH_SECONDS``, not one per record), so the requests of a
    sync never wait for the warehouse. Until written, records stay ``sending``, which a run
    that dies here resolves by reading them back."""

    def __init__(self, ledger: SyncLedger, destination: str, object_name: str, mapping: ObjectMapping,
                 result: SyncResult, hashes: dict[str, str], progress: Progress | None) -> None:
        self.ledger, self.destination, self.object_name = ledger, destination, object_name
        self.mapping, self.result, self.hashes, self.progress = mapping, result, hashes, progress
        self.done = 0
        self._queue: queue.Queue[list[RecordOutcome] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sync-ledger", daemon=True)
        self._thread.start()

    def report(self, outcomes: Sequence[RecordOutcome]) -> None:
        if outcomes:
            self._queue.put(list(outcomes))

    def close(self) -> None:
        """Write what is left; raises what a write raised."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        buffered: list[RecordOutcome] = []
        last_write = time.monotonic()
        closing = False
        while not closing:
            try:
                outcomes = self._queue.get(timeout=FLUSH_SECONDS)
            except queue.Empty:
                outcomes = []
            if outcomes is None:
                closing = True
            else:
                buffered.extend(outcomes)
            due = len(buffered) >= FLUSH_RECORDS or time.monotonic() - last_write >= FLUSH_SECONDS
            if buffered and (closing or due) and self._error is None:
                try:
                    self._write(buffered)
                except BaseException as error:  # noqa: BLE001 - raised again by close()
                    self._error = error
                buffered, last_write = [], time.monotonic()

    def _write(self, outcomes: list[RecordOutcome]) -> None:
        result = self.result
        dead = self.ledger.record(self.destination, self.object_name, result.run_id, outcomes, self.hashes,
                                  self.mapping.max_attempts)
        for outcome in outcomes:
            if outcome.status == "synced":
                result.succeeded += 1
            elif outcome.status == "retry":
                result.retry += 1
            elif outcome.status == "unknown":
                result.unknown += 1
            else:
                result.failed += 1
                if len(result.errors) < 100:
                    result.errors.append(f"{outcome.external_id}: {outcome.error}")
        result.dead_lettered += len(dead)
        self.done += len(outcomes)
        if self.progress:
            self.progress(self.done, len(self.hashes))


def _send(ledger: SyncLedger, destination: Destination, object_name: str, mapping: ObjectMapping,
          plan: SyncPlan, result: SyncResult, progress: Progress | None) -> None:
    to_send = plan.to_send()
    hashes = {record.external_id: record.payload_hash for record in to_send}
    recorder = _OutcomeRecorder(ledger, destination.name, object_name, mapping, result, hashes, progress)
    reported: set[str] = set()
    answered: set[str] = set()  # in the current pass
    unknown: dict[str, RecordOutcome] = {}  # answers lost: read back once the send is done
    items: PlannedItems | None = None
    try:
        # A record written ahead by a run that died (or whose answer was lost) may be in the
        # destination already: read it back and send it only if it is absent or different.
        doubtful = PlannedItems(ledger.connection, mapping, [record for record in to_send if record.in_doubt])
        in_doubt = doubtful[:]
        doubtful.finish()
        if in_doubt:
            # Absent or different ones are sent below; unreadable ones stay in doubt.
            confirmed, _, unreadable = _read_back(destination, mapping, in_doubt, "a run before this one")
            result.confirmed_by_read_back = len(confirmed)
            recorder.report(confirmed + unreadable)
            settled = {outcome.external_id for outcome in confirmed + unreadable}
            to_send = [record for record in to_send if record.external_id not in settled]

        # Write-ahead in one statement: marking chunk by chunk while sending made the requests
        # wait for the ledger, which the outcomes are being written to at the same time.
        ledger.mark_sending(destination.name, object_name, result.run_id,
                            [(record.external_id, record.payload_hash) for record in to_send])
        items = PlannedItems(ledger.connection, mapping, to_send)

        def report(outcomes: Sequence[RecordOutcome]) -> None:
            reported.update(outcome.external_id for outcome in outcomes)
            answered.update(outcome.external_id for outcome in outcomes)
            # Unknown outcomes stay ``sending`` in the ledger until read back below: a run
            # killed before that resolves them the same way.
            unknown.update((outcome.external_id, outcome) for outcome in outcomes if outcome.status == "unknown")
            recorder.report([outcome for outcome in outcomes if outcome.status != "unknown"])

        batch: Sequence[SendItem] = items
        for resend in range(RESEND_PASSES + 1):
            unknown.clear()
            answered.clear()
            try:
                destination.send(mapping, batch, report)
            except SyncStopped as stop:
                result.status, result.stop_reason = "stopped", str(stop)
                unsent = [item.external_id for item in (items.records if resend == 0 else batch)
                          if item.external_id not in answered]
                ledger.release(destination.name, object_name, unsent, f"not sent: {stop}")
                log.warning("%s %s: sync stopped after %s of %s records: %s", destination.name, object_name,
                            len(reported), len(items), stop)
            if not unknown:
                break
            position = {record.external_id: index for index, record in enumerate(items.records)}
            lost = [items[position[external_id]] for external_id in unknown]
            errors = {external_id: outcome.error for external_id, outcome in unknown.items()}
            confirmed, absent, unreadable = _read_back(destination, mapping, lost, "this run", errors)
            result.confirmed_by_read_back += len(confirmed)
            recorder.report(confirmed + unreadable)
            if not absent:
                break
            if resend == RESEND_PASSES or result.status == "stopped":
                # Not held as sent: the write did not happen, so sending again is safe (next run).
                recorder.report([RecordOutcome(item.external_id, "retry", error=(
                    f"answer lost ({errors[item.external_id]}); not held as sent on read-back: sent again next run"))
                    for item in absent])
                break
            log.info("%s %s: %s records whose answers were lost are not in the destination: sending them again",
                     destination.name, object_name, len(absent))
            batch = absent
    finally:
        if items is not None:
            items.finish()
        recorder.close()
    result.sent = len(reported)


def _read_back(destination: Destination, mapping: ObjectMapping, items: Sequence[SendItem], sent_by: str,
               errors: dict[str, str | None] | None = None
               ) -> tuple[list[RecordOutcome], list[SendItem], list[RecordOutcome]]:
    """Settle records whose outcome is unknown by reading them back in sets: (``synced``
    outcomes, the items not held as sent, ``unknown`` outcomes when the read-back itself failed:
    the next run reads those back first)."""
    try:
        held = destination.read_back(mapping, [item.external_id for item in items])
    except REQUEST_ERRORS as error:
        errors = errors or {}
        return [], [], [RecordOutcome(item.external_id, "unknown", error=(
            f"answer lost ({errors[item.external_id]})" if errors.get(item.external_id)
            else f"sent by {sent_by}, outcome unknown") + f"; read-back failed: {describe(error)}") for item in items]
    confirmed = held_as_sent(items, held)
    done = {outcome.external_id for outcome in confirmed}
    return confirmed, [item for item in items if item.external_id not in done], []
