"""Syncs by destination, the way `meterledger sync` and the Dagster assets run them.

The mapping is checked against the warehouse before anything is planned, so a renamed column or
an unbuilt model is one clear error up front, not a failure halfway through a sync.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import duckdb

from reverse_etl.engine import Progress, model_columns, run_sync
from reverse_etl.ledger import SyncResult
from reverse_etl.mapping import check_against_warehouse, load_mapping, mapping_path
from reverse_etl.protocol import Destination

DESTINATIONS = ("netsuite", "salesforce")
# Usage records before journal entries: the records bill the period the entries recognize.
OBJECT_ORDER = {"netsuite": ("usage_records", "journal_entries"),
                "salesforce": ("usage_summaries", "credit_balances", "accounts")}


def setting(settings: Mapping[str, str], name: str, default: float, *, low: float, high: float | None = None,
            whole: bool = True) -> float:
    """A numeric operator setting (``NETSUITE_TIMEOUT``, ...), its default when absent or empty;
    a value out of range is one clear error naming the setting."""
    raw = (settings.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bounds = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"
        raise ValueError(f"{name}={raw!r}: expected {'a whole number' if whole else 'a number'} {bounds}")
    return value


def destination_from(name: str, settings: Mapping[str, str]) -> Destination:
    """A destination client from the ``NETSUITE_*`` / ``SALESFORCE_*`` settings. The operator's
    knobs and their defaults: ``*_TIMEOUT`` (seconds a request may take, 30), ``NETSUITE_BATCH_SIZE``
    (records per batch upsert, at most 100), ``NETSUITE_CONCURRENCY`` (4), ``SALESFORCE_BATCH_SIZE``
    (records per sObject Collections call, at most 200), ``SALESFORCE_BULK_THRESHOLD`` (above this
    many records a sync uses Bulk API 2.0, 2000)."""
    if name == "netsuite":
        from meterledger.connections.netsuite import netsuite_connection_from
        from reverse_etl.netsuite import BATCH_SIZE, NetSuiteDestination

        connection = netsuite_connection_from(
            settings, timeout=setting(settings, "NETSUITE_TIMEOUT", 30.0, low=0.1, whole=False))
        return NetSuiteDestination(connection, concurrency=int(setting(settings, "NETSUITE_CONCURRENCY", 4, low=1)),
                                   batch_size=int(setting(settings, "NETSUITE_BATCH_SIZE", BATCH_SIZE, low=1,
                                                          high=BATCH_SIZE)))
    if name == "salesforce":
        from meterledger.connections.salesforce import salesforce_connection_from
        from reverse_etl.salesforce import COLLECTION_SIZE, SalesforceDestination

        connection = salesforce_connection_from(
            settings, timeout=setting(settings, "SALESFORCE_TIMEOUT", 30.0, low=0.1, whole=False))
        return SalesforceDestination(
            connection, bulk_threshold=int(setting(settings, "SALESFORCE_BULK_THRESHOLD", 2000, low=0)),
            batch_size=int(setting(settings, "SALESFORCE_BATCH_SIZE", COLLECTION_SIZE, low=1, high=COLLECTION_SIZE)))
    raise ValueError(f"unknown destination {name!r}: choose one of {', '.join(DESTINATIONS)}")


def sync_destination(connection: duckdb.DuckDBPyConnection, destination: Destination, *,
                     objects: Sequence[str] | None = None, run_id: str | None = None, dry_run: bool = False,
                     retry_dead_letters: bool = False, settings: Mapping[str, str] | None = None,
                     progress: Callable[[str], Progress | None] | None = None) -> list[SyncResult]:
    """Sync the destination's objects in order. When the destination stops a sync (its daily
    allowance spent), the objects after it are left for the next run."""
    path = mapping_path(destination.name, settings)
    mapping = load_mapping(destination.name, path)
    check_against_warehouse(mapping, model_columns(connection), path)
    order = [name for name in OBJECT_ORDER.get(destination.name, ()) if name in mapping.objects]
    order += [name for name in mapping.objects if name not in order]
    wanted = list(objects) if objects else order
    unknown = [name for name in wanted if name not in mapping.objects]
    if unknown:
        raise ValueError(f"{destination.name} has no object {', '.join(unknown)} in {path} "
                         f"(it has {', '.join(order)})")
    results = []
    for name in wanted:
        result = run_sync(connection, destination, name, mapping.objects[name], run_id=run_id, dry_run=dry_run,
                          retry_dead_letters=retry_dead_letters, progress=progress(name) if progress else None)
        results.append(result)
        if result.status == "stopped":
            break
    return results
