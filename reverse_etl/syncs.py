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


def destination_from(name: str, settings: Mapping[str, str]) -> Destination:
    """A destination client from the ``NETSUITE_*`` / ``SALESFORCE_*`` settings."""
    if name == "netsuite":
        from meterledger.connections.netsuite import netsuite_connection_from
        from reverse_etl.netsuite import NetSuiteDestination

        return NetSuiteDestination(netsuite_connection_from(settings),
                                   concurrency=int(settings.get("NETSUITE_CONCURRENCY", "4")))
    if name == "salesforce":
        from meterledger.connections.salesforce import salesforce_connection_from
        from reverse_etl.salesforce import SalesforceDestination

        return SalesforceDestination(salesforce_connection_from(settings),
                                     bulk_threshold=int(settings.get("SALESFORCE_BULK_THRESHOLD", "2000")))
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
