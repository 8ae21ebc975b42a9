"""The account's records in memory: internal IDs, the externalId index, snapshots to a JSON file.

One re-entrant lock guards everything; callers hold ``store.lock`` around a read-check-write.
``version`` changes with every write (SuiteQL caches results per query and version), and each
record keeps the version that wrote it last (its stamp: SuiteQL rebuilds only the rows of
records written since it last looked).
Invoices and journal entries share the ``transaction`` internal-ID space, as in NetSuite.
"""
from __future__ import annotations

import copy
import json
import os
import threading
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from emulators.common.http import dumps
from emulators.netsuite.records import SPECS, FieldSpec, RecordSpec

STATE_FORMAT = "meterledger-netsuite-state/1"


def now_stamp() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def id_key(internal_id: str) -> tuple[int, int, str]:
    return (0, int(internal_id), "") if internal_id.isdigit() else (1, 0, internal_id)


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self._records: dict[str, dict[str, dict]] = {name: {} for name in SPECS}
            self._external: dict[str, dict[str, str]] = {name: {} for name in SPECS}
            self._next: dict[str, int] = {}
            self._stamps: dict[str, dict[str, int]] = {name: {} for name in SPECS}
            # Internal IDs in ID order per record type, kept while no record is added or deleted.
            self._ordered: dict[str, list[str] | None] = {name: [] for name in SPECS}
            self.version = getattr(self, "version", 0) + 1

    # Reads --------------------------------------------------------------------------------------
    def get(self, record_type: str, internal_id: str) -> dict | None:
        return self._records[record_type].get(str(internal_id))

    def id_for_external(self, record_type: str, external_id: str) -> str | None:
        return self._external[record_type].get(external_id)

    def all(self, record_type: str) -> list[dict]:
        records = self._records[record_type]
        return [records[key] for key in self.ids(record_type)]

    def ids(self, record_type: str) -> list[str]:
        """The internal IDs of a record type in ID order (a shared list: do not change it)."""
        ordered = self._ordered[record_type]
        if ordered is None:
            ordered = self._ordered[record_type] = sorted(self._records[record_type], key=id_key)
        return ordered

    def stamps(self, record_type: str) -> dict[str, int]:
        """Per internal ID, the store version that last wrote the record (do not change it)."""
        return self._stamps[record_type]

    def count(self, record_type: str) -> int:
        return len(self._records[record_type])

    # Writes -------------------------------------------------------------------------------------
    def _allocate(self, record_type: str) -> str:
        space = SPECS[record_type].space
        candidate = self._next.get(space, 1)
        members = [name for name, spec in SPECS.items() if spec.space == space]
        while any(str(candidate) in self._records[name] for name in members):
            candidate += 1
        self._next[space] = candidate + 1
        return str(candidate)

    def _reserve(self, record_type: str, internal_id: str) -> None:
        if internal_id.isdigit():
            space = SPECS[record_type].space
            self._next[space] = max(self._next.get(space, 1), int(internal_id) + 1)

    def insert(self, record_type: str, record: dict, *, touch: bool = True) -> str:
        with self.lock:
            if record.get("id") in (None, ""):
                record["id"] = self._allocate(record_type)
            record["id"] = str(record["id"])
            if touch or not record.get("lastModifiedDate"):
                record["lastModifiedDate"] = now_stamp()
            external_id = record.get("externalId")
            if external_id is not None:
                owner = self._external[record_type].get(external_id)
                if owner is not None and owner != record["id"]:
                    raise ValueError(f"{record_type}: externalId {external_id!r} is used twice")
                self._external[record_type][external_id] = record["id"]
            self._reserve(record_type, record["id"])
            if record["id"] not in self._records[record_type]:
                self._add_id(record_type, record["id"])
            self._records[record_type][record["id"]] = record
            self.version += 1
            self._stamps[record_type][record["id"]] = self.version
            return record["id"]

    def _add_id(self, record_type: str, internal_id: str) -> None:
        ordered = self._ordered[record_type]
        if ordered is not None and (not ordered or id_key(ordered[-1]) < id_key(internal_id)):
            ordered.append(internal_id)  # the common case: a new record takes the next ID
        else:
            self._ordered[record_type] = None

    def replace(self, record_type: str, record: dict) -> None:
        with self.lock:
            old = self._records[record_type][record["id"]]
            if old.get("externalId") is not None:
                self._external[record_type].pop(old["externalId"], None)
            self.insert(record_type, record)

    def delete(self, record_type: str, internal_id: str) -> None:
        with self.lock:
            old = self._records[record_type].pop(internal_id)
            self._stamps[record_type].pop(internal_id, None)
            self._ordered[record_type] = None
            self.version += 1
            if old.get("externalId") is not None:
                self._external[record_type].pop(old["externalId"], None)

    # Snapshots ----------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        with self.lock:
            return {
                "format": STATE_FORMAT,
                "next_ids": dict(self._next),
                "records": {name: copy.deepcopy(self.all(name)) for name in SPECS if self._records[name]},
            }

    def load_records(self, records: dict[str, list[dict]], *, touch: bool = False) -> None:
        """Add records as a seed or a state file holds them (``id`` and REST field names)."""
        with self.lock:
            unknown = set(records) - set(SPECS)
            if unknown:
                raise ValueError(f"unknown NetSuite record types: {', '.join(sorted(unknown))}")
            # Explicit IDs first, so records without one take the next free ID.
            pending: list[tuple[str, dict]] = []
            for record_type in SPECS:
                for raw in records.get(record_type, []):
                    record = coerce_record(SPECS[record_type], raw)
                    lines = record.pop("subscriptionLine", None) if record_type == "subscription" else None
                    if record.get("id") in (None, ""):
                        pending.append((record_type, record))
                    else:
                        self.insert(record_type, record, touch=touch)
                    for line in (lines or {}).get("items", []):
                        pending.append(("subscriptionline", (record, line)))  # type: ignore[arg-type]
            for record_type, record in pending:
                if record_type == "subscriptionline" and isinstance(record, tuple):
                    parent, line = record
                    if parent.get("id") in (None, ""):
                        self.insert("subscription", parent, touch=touch)
                    line = coerce_record(SPECS["subscriptionline"], {**line, "subscription": {"id": parent["id"]}})
                    existing = self.get("subscriptionline", line["id"]) if line.get("id") else None
                    if existing is not None:  # a reference to a line seeded on its own: merge
                        if existing["subscription"]["id"] != parent["id"]:
                            raise ValueError(f"subscription line {line['id']} belongs to subscription "
                                             f"{existing['subscription']['id']}, not {parent['id']}")
                        line = {**existing, **line}
                    elif set(line) <= {"id", "subscription", "links", "refName"}:
                        raise ValueError(f"subscription {parent['id']} names line {line.get('id')}, "
                                         f"which the seed does not hold")
                    self.insert("subscriptionline", line, touch=touch)
                elif record.get("id") in (None, ""):
                    self.insert(record_type, record, touch=touch)

    def load_state(self, path: Path) -> None:
        data = json.loads(Path(path).read_text(), parse_float=Decimal)
        with self.lock:
            self.clear()
            if data.get("format") == STATE_FORMAT:
                self.load_records(data.get("records", {}))
                for space, value in data.get("next_ids", {}).items():
                    self._next[space] = max(self._next.get(space, 1), int(value))
            else:  # a seed file given as a state file
                self.load_records(data)

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = dumps(self.snapshot())
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_bytes(payload)
        os.replace(temporary, path)


def load_seed_file(path: Path) -> dict[str, list[dict]]:
    return json.loads(Path(path).read_text(), parse_float=Decimal)


def _coerce(spec: FieldSpec, value: Any) -> Any:
    """Lenient normalisation for trusted data (seeds, state files): types only, no lookups."""
    if value is None:
        return None
    if spec.kind == "decimal" and not isinstance(value, bool):
        return Decimal(str(value))
    if spec.kind == "int" and isinstance(value, (str, Decimal)):
        return int(value)
    if spec.kind == "ref":
        return {"id": str(value["id"] if isinstance(value, dict) else value)}
    if spec.kind == "refs":
        items = value.get("items", []) if isinstance(value, dict) else value
        return [{"id": str(item["id"] if isinstance(item, dict) else item)} for item in items]
    return value


def coerce_record(spec: RecordSpec, raw: dict) -> dict:
    record: dict[str, Any] = {}
    for name, value in raw.items():
        if name in spec.fields:
            record[name] = _coerce(spec.fields[name], value)
        elif name in spec.sublists:
            sublist = spec.sublists[name]
            items = value.get("items", []) if isinstance(value, dict) else value
            record[name] = {"items": [
                {key: (_coerce(sublist.fields[key], v) if key in sublist.fields else v) for key, v in item.items()}
                for item in items]}
        elif name == "id":
            record["id"] = None if value is None else str(value)
        else:
            record[name] = value
    return record
