"""The generic sync flow: plan (diff against the ledger) -> send -> record.

Destinations supply only their upsert call; the plan and the ledger are the same for all.
"""
from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timezone
from typing import Any

import duckdb
import simplejson

from reverse_etl.destinations import Destination
from reverse_etl.ledger import SyncLedger, SyncResult
from reverse_etl.mapping import ObjectMapping

SYNC_SCHEMA = "reverse_etl_sync"


def payload_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(simplejson.dumps(payload, use_decimal=True, sort_keys=True).encode()).hexdigest()


def plan(connection: duckdb.DuckDBPyConnection, mapping: ObjectMapping) -> dict[str, dict[str, Any]]:
    """External ID -> destination payload for every row of the sync model."""
    cursor = connection.execute(f"select * from {SYNC_SCHEMA}.{mapping.model}")
    columns = [description[0] for description in cursor.description]
    payloads: dict[str, dict[str, Any]] = {}
    for values in cursor.fetchall():
        row = dict(zip(columns, values))
        payloads[str(row[mapping.key])] = mapping.payload(row)
    return payloads


def run_sync(connection: duckdb.DuckDBPyConnection, destination: Destination, object_name: str,
             mapping: ObjectMapping, run_id: str | None = None) -> SyncResult:
    run_id = run_id or uuid.uuid4().hex
    started_at = datetime.now(timezone.utc).replace(tzinfo=None)
    ledger = SyncLedger(connection)
    wanted = plan(connection, mapping)
    hashes = {external_id: payload_hash(payload) for external_id, payload in wanted.items()}
    already = ledger.synced_hashes(destination.name, object_name)
    to_send = {external_id: payload for external_id, payload in wanted.items()
               if already.get(external_id) != hashes[external_id]}
    key_field = mapping.fields[mapping.key].field
    outcomes = destination.upsert(mapping.record_type, key_field, to_send) if to_send else []
    ledger.record(destination.name, object_name, run_id, hashes, outcomes)
    failures = tuple(f"{outcome.external_id}: {outcome.error}" for outcome in outcomes if not outcome.ok)
    result = SyncResult(destination.name, object_name, len(wanted), len(wanted) - len(to_send),
                        len(outcomes), len(outcomes) - len(failures), len(failures), failures)
    ledger.record_run(run_id, result, started_at)
    return result
