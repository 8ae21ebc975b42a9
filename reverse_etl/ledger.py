"""The sync ledger: what was sent to each destination, in the warehouse's reverse_etl schema."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb

from reverse_etl.destinations import RecordOutcome

SCHEMA = "reverse_etl"


@dataclass(frozen=True)
class SyncResult:
    """The counts of one sync of one object, as kept in ``sync_runs``."""

    destination: str
    object_name: str
    planned: int
    unchanged: int
    sent: int
    succeeded: int
    failed: int
    errors: tuple[str, ...]

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
"""


class SyncLedger:
    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        self.connection.execute(DDL)

    def synced_hashes(self, destination: str, object_name: str) -> dict[str, str]:
        """External ID -> payload hash of every record the destination accepted."""
        rows = self.connection.execute(
            f"select external_id, payload_hash from {SCHEMA}.sync_ledger "
            "where destination = ? and object_name = ? and status = 'synced'",
            [destination, object_name],
        ).fetchall()
        return dict(rows)

    def record(self, destination: str, object_name: str, run_id: str,
               hashes: dict[str, str], outcomes: list[RecordOutcome]) -> None:
        if not outcomes:
            return
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        rows = [
            (destination, object_name, outcome.external_id, hashes[outcome.external_id], outcome.remote_id,
             "synced" if outcome.ok else ("retry" if outcome.retryable else "failed"),
             outcome.error, run_id, now)
            for outcome in outcomes
        ]
        self.connection.executemany(
            f"""insert into {SCHEMA}.sync_ledger
                (destination, object_name, external_id, payload_hash, remote_id, status, attempts,
                 last_error, run_id, synced_at)
                values (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)
                on conflict (destination, object_name, external_id) do update set
                    payload_hash = excluded.payload_hash,
                    remote_id = coalesce(excluded.remote_id, sync_ledger.remote_id),
                    status = excluded.status,
                    attempts = sync_ledger.attempts + 1,
                    last_error = excluded.last_error,
                    run_id = excluded.run_id,
                    synced_at = excluded.synced_at""",
            rows,
        )

    def record_run(self, run_id: str, result: SyncResult, started_at: datetime) -> None:
        self.connection.execute(
            f"insert into {SCHEMA}.sync_runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, result.destination, result.object_name, result.planned, result.unchanged, result.sent,
             result.succeeded, result.failed, started_at, datetime.now(timezone.utc).replace(tzinfo=None)],
        )
