"""The sync ledger, in the warehouse's ``reverse_etl`` schema.

``sync_ledger``: one row per destination record: what was last attempted (``payload_hash``),
what the destination is known to hold (``synced_hash``), its remote ID, status, ``attempts``
(how many times the destination refused the current content: only refusals count), the
destination's last error and the run that touched it last.
``sync_runs``: per run and object, the plan's counts and the outcomes. ``sync_plan``: the latest
plan per object (a dry run's answer), record by record with the reason.

Statuses: ``sending`` (written ahead of a send: if the run dies, the next run reads the record
back before sending it again), ``synced``, ``retry`` (not done, safe to send again: sent next
run), ``unknown`` (the answer was lost and the read-back failed too: the next run reads it back
before sending), ``failed`` (refused by the destination, retried with its current content next
run) and ``dead_letter`` (refused ``max_attempts`` times; left alone until its content changes or
``--retry-dead-letters``).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Sequence

import duckdb
import pyarrow as pa

from reverse_etl.protocol import RecordOutcome

SCHEMA = "reverse_etl"

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.sync_ledger (
    destination varchar not null,
    object_name varchar not null,
    external_id varchar not null,
    payload_hash varchar not null,
    remote_id varchar,
    status varchar not null,
    attempts integer not null,
    last_error varchar,
    run_id varchar not null,
    synced_at timestamp not null,
    primary key (destination, object_name, external_id)
);
alter table {SCHEMA}.sync_ledger add column if not exists synced_hash varchar;
alter table {SCHEMA}.sync_ledger add column if not exists first_synced_at timestamp;
create table if not exists {SCHEMA}.sync_runs (
    run_id varchar not null,
    destination varchar not null,
    object_name varchar not null,
    planned integer not null,
    unchanged integer not null,
    sent integer not null,
    succeeded integer not null,
    failed integer not null,
    started_at timestamp not null,
    finished_at timestamp not null
);
alter table {SCHEMA}.sync_runs add column if not exists dry_run boolean default false;
alter table {SCHEMA}.sync_runs add column if not exists status varchar default 'finished';
alter table {SCHEMA}.sync_runs add column if not exists to_create integer default 0;
alter table {SCHEMA}.sync_runs add column if not exists to_update integer default 0;
alter table {SCHEMA}.sync_runs add column if not exists blocked integer default 0;
alter table {SCHEMA}.sync_runs add column if not exists confirmed_by_read_back integer default 0;
alter table {SCHEMA}.sync_runs add column if not exists retry integer default 0;
alter table {SCHEMA}.sync_runs add column if not exists dead_lettered integer default 0;
alter table {SCHEMA}.sync_runs add column if not exists stop_reason varchar;
alter table {SCHEMA}.sync_runs add column if not exists unknown integer default 0;
alter table {SCHEMA}.sync_runs add column if not exists held_dead_letters integer default 0;
alter table {SCHEMA}.sync_runs add column if not exists missing_values integer default 0;
create table if not exists {SCHEMA}.sync_plan (
    run_id varchar not null,
    destination varchar not null,
    object_name varchar not null,
    external_id varchar not null,
    action varchar not null,
    reason varchar,
    payload_hash varchar,
    planned_at timestamp not null
);
"""


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class LedgerEntry:
    payload_hash: str
    synced_hash: str | None
    remote_id: str | None
    status: str
    attempts: int
    last_error: str | None


@dataclass
class SyncResult:
    """The counts of one sync of one object, as kept in ``sync_runs``."""

    destination: str
    object_name: str
    run_id: str
    dry_run: bool = False
    status: str = "finished"
    planned: int = 0
    to_create: int = 0
    to_update: int = 0
    unchanged: int = 0
    blocked: int = 0
    sent: int = 0
    confirmed_by_read_back: int = 0
    succeeded: int = 0
    retry: int = 0
    unknown: int = 0
    failed: int = 0
    dead_lettered: int = 0
    held_dead_letters: int = 0  # blocked: dead-lettered by an earlier run, content unchanged
    missing_values: int = 0  # blocked: a required value is empty in the sync model
    stop_reason: str | None = None
    errors: list[str] = field(default_factory=list)

    def as_metadata(self) -> dict[str, int | str]:
        counts = {name: getattr(self, name) for name in (
            "planned", "to_create", "to_update", "unchanged", "blocked", "sent", "confirmed_by_read_back",
            "succeeded", "retry", "unknown", "failed", "dead_lettered", "held_dead_letters", "missing_values")}
        return {**counts, "status": self.status, "outcome": self.outcome}

    @property
    def needs_attention(self) -> int:
        """Records a person must look at: refused by the destination (this run or dead-lettered
        before) or missing a required value."""
        return self.failed + self.held_dead_letters + self.missing_values

    @property
    def left_to_resend(self) -> int:
        """Records a later run sends or settles by itself: not done, or outcome unknown."""
        return self.retry + self.unknown

    @property
    def outcome(self) -> str:
        """``complete``: every record planned ended synced, unchanged or held by its model until
        due; ``incomplete``: some are left for a later run (or the destination stopped the sync);
        ``refused``: some need a person. A dry run sends nothing and is ``planned``."""
        if self.dry_run:
            return "planned"
        if self.needs_attention:
            return "refused"
        if self.left_to_resend or self.status == "stopped":
            return "incomplete"
        return "complete"


class SyncLedger:
    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        self.connection.execute(DDL)
        # Destinations report outcomes from their worker threads; one DuckDB connection is not
        # safe to share between threads without it.
        self._lock = threading.Lock()

    def entries(self, destination: str, object_name: str) -> dict[str, LedgerEntry]:
        rows = self.connection.execute(
            f"select external_id, payload_hash, synced_hash, remote_id, status, attempts, last_error "
            f"from {SCHEMA}.sync_ledger where destination = ? and object_name = ?",
            [destination, object_name]).fetchall()
        return {row[0]: LedgerEntry(*row[1:]) for row in rows}

    def mark_sending(self, destination: str, object_name: str, run_id: str,
                     items: Iterable[tuple[str, str]]) -> None:
        """Write ahead: these records are about to be sent (external ID, payload hash)."""
        items = list(items)
        if not items:
            return
        sending = pa.table({"external_id": [external_id for external_id, _ in items],
                            "payload_hash": [payload_hash for _, payload_hash in items]})
        with self._lock:
            self.connection.register("sending_records", sending)
            self.connection.execute(
                f"""insert into {SCHEMA}.sync_ledger
                    (destination, object_name, external_id, payload_hash, status, attempts, run_id, synced_at)
                    select ?, ?, external_id, payload_hash, 'sending', 0, ?, ? from sending_records
                    on conflict (destination, object_name, external_id) do update set
                        -- attempts count the attempts of the current content
                        attempts = case when sync_ledger.payload_hash = excluded.payload_hash
                                        then sync_ledger.attempts else 0 end,
                        payload_hash = excluded.payload_hash,
                        status = 'sending',
                        run_id = excluded.run_id,
                        synced_at = excluded.synced_at""",
                [destination, object_name, run_id, _now()])
            self.connection.unregister("sending_records")

    def record(self, destination: str, object_name: str, run_id: str, outcomes: Sequence[RecordOutcome],
               hashes: dict[str, str], max_attempts: int) -> list[str]:
        """Record outcomes; answers the external IDs that were dead-lettered by them."""
        if not outcomes:
            return []
        reported = pa.table({
            "external_id": [outcome.external_id for outcome in outcomes],
            "payload_hash": [hashes[outcome.external_id] for outcome in outcomes],
            "remote_id": pa.array([outcome.remote_id for outcome in outcomes], pa.string()),
            "status": [outcome.status for outcome in outcomes],
            "last_error": pa.array([outcome.error for outcome in outcomes], pa.string()),
        })
        with self._lock:
            self.connection.register("reported_outcomes", reported)
            self.connection.execute(
                f"""insert into {SCHEMA}.sync_ledger
                    (destination, object_name, external_id, payload_hash, remote_id, status, attempts,
                     last_error, run_id, synced_at)
                    select ?, ?, external_id, payload_hash, remote_id, status,
                           case when status = 'failed' then 1 else 0 end, last_error, ?, ?
                    from reported_outcomes
                    on conflict (destination, object_name, external_id) do update set
                        -- only the destination's refusals count toward dead-lettering
                        attempts = sync_ledger.attempts + case when excluded.status = 'failed' then 1 else 0 end,
                        payload_hash = excluded.payload_hash,
                        remote_id = coalesce(excluded.remote_id, sync_ledger.remote_id),
                        status = excluded.status,
                        last_error = excluded.last_error,
                        run_id = excluded.run_id,
                        synced_at = excluded.synced_at""",
                [destination, object_name, run_id, _now()])
            # What the destination holds is only known for the synced ones.
            self.connection.execute(
                f"""update {SCHEMA}.sync_ledger
                    set synced_hash = payload_hash, first_synced_at = coalesce(first_synced_at, synced_at)
                    where destination = ? and object_name = ? and status = 'synced'
                      and external_id in (select external_id from reported_outcomes)""",
                [destination, object_name])
            dead = self.connection.execute(
                f"""update {SCHEMA}.sync_ledger set status = 'dead_letter'
                    where destination = ? and object_name = ? and status = 'failed' and attempts >= ?
                      and external_id in (select external_id from reported_outcomes)
                    returning external_id""",
                [destination, object_name, max_attempts]).fetchall()
            self.connection.unregister("reported_outcomes")
        return [row[0] for row in dead]

    def release(self, destination: str, object_name: str, external_ids: Sequence[str], reason: str) -> None:
        """Records written ahead but never sent (the destination stopped the sync first)."""
        if not external_ids:
            return
        with self._lock:
            self.connection.execute(
                f"""update {SCHEMA}.sync_ledger set status = 'retry', last_error = ?
                    where destination = ? and object_name = ? and status = 'sending'
                      and external_id in (select unnest(?::varchar[]))""",
                [reason, destination, object_name, list(external_ids)])

    def write_plan(self, run_id: str, destination: str, object_name: str,
                   rows: Sequence[tuple[str, str, str | None, str | None]]) -> None:
        """Replace the object's plan with this run's: (external ID, action, reason, payload hash)."""
        now = _now()
        with self._lock:
            self.connection.execute(f"delete from {SCHEMA}.sync_plan where destination = ? and object_name = ?",
                                    [destination, object_name])
            if rows:
                planned = pa.table({name: pa.array(values, pa.string()) for name, values in zip(
                    ("external_id", "action", "reason", "payload_hash"), zip(*rows))})
                self.connection.register("planned_records", planned)
                self.connection.execute(
                    f"insert into {SCHEMA}.sync_plan select ?, ?, ?, external_id, action, reason, payload_hash, ? "
                    "from planned_records", [run_id, destination, object_name, now])
                self.connection.unregister("planned_records")

    def record_run(self, result: SyncResult, started_at: datetime) -> None:
        with self._lock:
            self.connection.execute(
                f"""insert into {SCHEMA}.sync_runs
                    (run_id, destination, object_name, planned, unchanged, sent, succeeded, failed,
                     started_at, finished_at, dry_run, status, to_create, to_update, blocked,
                     confirmed_by_read_back, retry, dead_lettered, stop_reason, unknown, held_dead_letters,
                     missing_values)
                    values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [result.run_id, result.destination, result.object_name, result.planned, result.unchanged,
                 result.sent, result.succeeded, result.failed, started_at, _now(), result.dry_run,
                 result.status, result.to_create, result.to_update, result.blocked,
                 result.confirmed_by_read_back, result.retry, result.dead_lettered, result.stop_reason,
                 result.unknown, result.held_dead_letters, result.missing_values])
