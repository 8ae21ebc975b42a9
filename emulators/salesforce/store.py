"""The records: sObjects by object and id, External ID indexes, writes with Salesforce's checks,
all-or-none transactions, and persistence to a JSON file in the seed format.

One re-entrant lock (``Store.lock``) guards everything; callers that combine several operations
(sObject Collections, Bulk API chunks, queries) hold it across them. ``SystemModstamp`` /
``LastModifiedDate`` come from a clock that strictly increases (at least 1 ms per write) and never
goes below the newest stamp loaded, so ``WHERE SystemModstamp > :last_seen`` never misses a write.
"""
from __future__ import annotations

import copy
import json
import os
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

from emulators.common.http import dumps
from emulators.salesforce import ids
from emulators.salesforce.errors import SalesforceError, invalid_field
from emulators.salesforce.schema import (
    BOOLEAN, ID, OBJECTS, REFERENCE, FieldDef, ObjectDef, convert_value, format_datetime, object_def,
    object_for_prefix, parse_datetime,
)

SYSTEM_FIELDS = ("Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp")
META_KEY = "_emulator"


class SeedError(ValueError):
    """A seed or state file that does not match the object model."""


class MultipleMatches(Exception):
    """An upsert whose External ID value matches several records (HTTP 300)."""

    def __init__(self, object_name: str, record_ids: list[str]) -> None:
        super().__init__(f"{len(record_ids)} {object_name} records match")
        self.object_name = object_name
        self.record_ids = record_ids


class Clock:
    """Millisecond timestamps, strictly increasing across writes."""

    def __init__(self) -> None:
        self._last: datetime | None = None

    def observe(self, stamp: str | None) -> None:
        if stamp:
            moment = parse_datetime(stamp)
            if self._last is None or moment > self._last:
                self._last = moment

    def tick(self) -> str:
        now = datetime.now(timezone.utc)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if self._last is not None and now <= self._last:
            now = self._last + timedelta(milliseconds=1)
        self._last = now
        return format_datetime(now)

    @property
    def last(self) -> str | None:
        return format_datetime(self._last) if self._last else None


def _key(value: Any) -> str:
    """External ID values match case-insensitively (Salesforce's default for External ID fields)."""
    return str(value).casefold()


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.tables: dict[str, dict[str, dict]] = {name: {} for name in OBJECTS}
        self._counters: dict[str, int] = {name: 0 for name in OBJECTS}
        # object -> External ID field -> casefolded value -> ids (live records only)
        self._indexes: dict[str, dict[str, dict[str, set[str]]]] = {}
        self._undo: list[tuple[str, str, dict | None]] | None = None
        self._undo_seen: set[tuple[str, str]] = set()
        self._rebuild_indexes()

    # Lookups -------------------------------------------------------------------------------
    @staticmethod
    def object(name: str) -> ObjectDef:
        definition = object_def(name)
        if definition is None:
            raise not_supported(name)
        return definition

    def get(self, object_name: str, record_id: str, include_deleted: bool = False) -> dict | None:
        normalized = ids.to_18(record_id)
        if normalized is None:
            return None
        with self.lock:
            record = self.tables[object_name].get(normalized)
            if record is None or (record["IsDeleted"] and not include_deleted):
                return None
            return record

    def find_by_external_id(self, object_name: str, field_name: str, value: Any) -> list[str]:
        with self.lock:
            if field_name == "Id":
                record = self.get(object_name, str(value))
                return [record["Id"]] if record else []
            return sorted(self._indexes[object_name][field_name].get(_key(value), ()))

    def live_records(self, object_name: str, include_deleted: bool = False) -> list[dict]:
        with self.lock:
            return [record for record in self.tables[object_name].values()
                    if include_deleted or not record["IsDeleted"]]

    def counts(self) -> dict[str, dict[str, int]]:
        with self.lock:
            return {name: {"live": sum(1 for r in table.values() if not r["IsDeleted"]),
                           "deleted": sum(1 for r in table.values() if r["IsDeleted"])}
                    for name, table in self.tables.items()}

    # Writes --------------------------------------------------------------------------------
    def prepare(self, definition: ObjectDef, body: dict, source: str = "json") -> dict[str, Any]:
        """The body's values, converted, keyed by declared field names; ``X__r`` / ``X__r.Ext``
        relationship values are resolved to ids through the referenced object's External ID."""
        if not isinstance(body, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "Expected a JSON object for the record")
        values: dict[str, Any] = {}
        for raw_name, raw_value in body.items():
            if raw_name == "attributes":
                continue
            name, _, sub_field = raw_name.partition(".")
            field = definition.field(name)
            if field is None and (relation := definition.relationship(name)) is not None:
                if sub_field:
                    lookup = {sub_field: raw_value}
                elif isinstance(raw_value, dict):
                    lookup = {k: v for k, v in raw_value.items() if k != "attributes"}
                else:
                    raise invalid_field(f"Relationship {name} needs an External ID value", [name])
                values[relation.name] = self._resolve_relationship(relation, lookup)
                continue
            if field is None or sub_field:
                raise invalid_field(
                    f"No such column '{raw_name}' on sobject of type {definition.name}", [raw_name])
            if not field.writable:
                raise SalesforceError(
                    400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {field.name}. Please check the security settings of "
                    "this field and verify that it is read/write for your profile or permission set.",
                    [field.name])
            if source == "csv" and raw_value == "":
                continue  # Bulk API: an empty cell leaves the field as it is
            if source == "csv" and raw_value == "#N/A":
                raw_value = None
            values[field.name] = convert_value(field, raw_value, source)
        return values

    def _resolve_relationship(self, relation: FieldDef, lookup: dict) -> str | None:
        target = self.object(relation.reference_to or "")
        if len(lookup) != 1:
            raise invalid_field(f"Relationship {relation.relationship_name} needs exactly one External ID field",
                                [relation.name])
        (field_name, value), = lookup.items()
        field = target.field(field_name)
        if field is None or not (field.external_id or field.name == "Id"):
            raise invalid_field(f"Field {field_name} is not an External ID or Id field of {target.name}",
                                [relation.name])
        if value in (None, ""):
            return None
        found = self.find_by_external_id(target.name, field.name, value)
        if not found:
            raise invalid_field(f"Foreign key external ID: {value} not found for field {field.name} "
                                f"in entity {target.name}", [relation.name])
        if len(found) > 1:
            raise invalid_field(f"Foreign key external ID: {value} matches multiple records for field "
                                f"{field.name} in entity {target.name}", [relation.name])
        return found[0]

    def _check(self, definition: ObjectDef, record: dict, changed: dict[str, Any]) -> None:
        missing = [field.name for field in definition.required_fields if record.get(field.name) is None]
        if missing:
            raise SalesforceError(400, "REQUIRED_FIELD_MISSING",
                                  f"Required fields are missing: [{', '.join(missing)}]", missing)
        for name, value in changed.items():
            field = definition.fields[name]
            if field.type == REFERENCE and value is not None:
                self._check_reference(field, value)
        for field in definition.external_id_fields:
            value = record.get(field.name)
            if not field.unique or field.name not in changed or value is None:
                continue
            others = [other for other in self._indexes[definition.name][field.name].get(_key(value), ())
                      if other != record["Id"]]
            if others:
                raise SalesforceError(400, "DUPLICATE_VALUE",
                                      f"duplicate value found: {field.name} duplicates value on record "
                                      f"with id: {others[0]}", [])

    def _check_reference(self, field: FieldDef, value: str) -> None:
        normalized = ids.to_18(value)
        if normalized is None:
            raise SalesforceError(400, "MALFORMED_ID", f"{field.name}: id value of incorrect type: {value}",
                                  [field.name])
        target = object_for_prefix(normalized[:3])
        if target is None or target.name != field.reference_to:
            raise SalesforceError(400, "FIELD_INTEGRITY_EXCEPTION",
                                  f"{field.name}: id value of incorrect type: {value}", [field.name])
        if self.get(target.name, normalized) is None:
            raise SalesforceError(400, "INVALID_CROSS_REFERENCE_KEY",
                                  f"invalid cross reference id: {value} ({field.name})", [field.name])

    def _normalize_references(self, definition: ObjectDef, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if definition.fields[name].type == REFERENCE and value is not None:
                values[name] = ids.to_18(value) or value

    def create(self, object_name: str, body: dict, source: str = "json",
               values: dict[str, Any] | None = None) -> str:
        definition = self.object(object_name)
        with self.lock:
            if values is None:
                values = self.prepare(definition, body, source)
            self._normalize_references(definition, values)
            record = {name: (False if field.type == BOOLEAN else None) for name, field in definition.fields.items()}
            record.update(values)
            record["Id"] = self._next_id(definition)
            self._check(definition, record, values)
            stamp = self.clock.tick()
            record.update(IsDeleted=False, CreatedDate=stamp, LastModifiedDate=stamp, SystemModstamp=stamp)
            self._put(definition.name, record)
            return record["Id"]

    def update(self, object_name: str, record_id: str, body: dict, source: str = "json",
               values: dict[str, Any] | None = None) -> str:
        definition = self.object(object_name)
        with self.lock:
            current = self.get(definition.name, record_id, include_deleted=True)
            if current is None:
                raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
            if current["IsDeleted"]:
                raise SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted")
            if values is None:
                values = self.prepare(definition, body, source)
            self._normalize_references(definition, values)
            record = dict(current)
            record.update(values)
            self._check(definition, record, values)
            stamp = self.clock.tick()
            record.update(LastModifiedDate=stamp, SystemModstamp=stamp)
            self._put(definition.name, record)
            return record["Id"]

    def upsert(self, object_name: str, field_name: str, value: Any, body: dict,
               source: str = "json") -> tuple[str, bool]:
        """Create or update the record whose External ID ``field_name`` is ``value``: (id, created)."""
        definition = self.object(object_name)
        field = definition.field(field_name)
        if field is None or not (field.external_id or field.name == "Id"):
            raise SalesforceError(404, "NOT_FOUND",
                                  f"Provided external ID field does not exist or is not accessible: {field_name}")
        with self.lock:
            values = self.prepare(definition, body, source)
            if field.name == "Id":
                values.pop("Id", None)
                if value in (None, ""):
                    return self.create(definition.name, {}, values=values), True
                return self.update(definition.name, value, {}, values=values), False
            if value in (None, ""):
                raise SalesforceError(400, "REQUIRED_FIELD_MISSING",
                                      f"Required fields are missing: [{field.name}]", [field.name])
            given = values.get(field.name)
            if given is not None and _key(given) != _key(value):
                raise invalid_field(f"The External ID {field.name} in the record ({given}) does not match "
                                    f"the value in the URL ({value})", [field.name])
            matches = self.find_by_external_id(definition.name, field.name, value)
            if len(matches) > 1:
                raise MultipleMatches(definition.name, matches)
            if matches:
                values.pop(field.name, None)
                return self.update(definition.name, matches[0], {}, values=values), False
            values[field.name] = convert_value(field, value, "json")
            return self.create(definition.name, {}, values=values), True

    def delete(self, object_name: str, record_id: str) -> None:
        definition = self.object(object_name)
        with self.lock:
            current = self.get(definition.name, record_id, include_deleted=True)
            if current is None:
                raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
            if current["IsDeleted"]:
                raise SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted")
            record = dict(current)
            stamp = self.clock.tick()
            record.update(IsDeleted=True, LastModifiedDate=stamp, SystemModstamp=stamp)
            self._put(definition.name, record)

    def _next_id(self, definition: ObjectDef) -> str:
        table = self.tables[definition.name]
        while True:
            self._counters[definition.name] += 1
            candidate = ids.make_id(definition.key_prefix, self._counters[definition.name])
            if candidate not in table:
                return candidate

    def _put(self, object_name: str, record: dict) -> None:
        table = self.tables[object_name]
        record_id = record["Id"]
        previous = table.get(record_id)
        if self._undo is not None and (object_name, record_id) not in self._undo_seen:
            self._undo_seen.add((object_name, record_id))
            self._undo.append((object_name, record_id, copy.deepcopy(previous)))
        if previous is not None:
            self._unindex(object_name, previous)
        table[record_id] = record
        self._index(object_name, record)

    # Indexes -------------------------------------------------------------------------------
    def _index(self, object_name: str, record: dict) -> None:
        if record["IsDeleted"]:
            return
        for field_name, index in self._indexes[object_name].items():
            value = record.get(field_name)
            if value is not None:
                index.setdefault(_key(value), set()).add(record["Id"])

    def _unindex(self, object_name: str, record: dict) -> None:
        for field_name, index in self._indexes[object_name].items():
            value = record.get(field_name)
            if value is not None and (bucket := index.get(_key(value))):
                bucket.discard(record["Id"])
                if not bucket:
                    del index[_key(value)]

    def _rebuild_indexes(self, only: set[str] | None = None) -> None:
        for name, definition in OBJECTS.items():
            if only is not None and name not in only:
                continue
            self._indexes[name] = {field.name: {} for field in definition.external_id_fields}
            for record in self.tables[name].values():
                self._index(name, record)

    # Transactions --------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator["Store"]:
        """Hold the lock and record an undo log; ``rollback()`` inside restores every record
        written since the start."""
        with self.lock:
            if self._undo is not None:
                raise RuntimeError("nested transactions are not supported")
            self._undo, self._undo_seen = [], set()
            try:
                yield self
            finally:
                self._undo, self._undo_seen = None, set()

    def rollback(self) -> None:
        with self.lock:
            if self._undo is None:
                raise RuntimeError("rollback outside a transaction")
            touched = set()
            for object_name, record_id, previous in reversed(self._undo):
                touched.add(object_name)
                if previous is None:
                    self.tables[object_name].pop(record_id, None)
                else:
                    self.tables[object_name][record_id] = previous
            self._undo.clear()
            self._undo_seen.clear()
            self._rebuild_indexes(touched)

    # Rendering -----------------------------------------------------------------------------
    @staticmethod
    def render(object_name: str, record: dict, version: str, fields: list[str] | None = None) -> dict:
        names = fields if fields is not None else list(record)
        rendered = {"attributes": {"type": object_name,
                                   "url": f"/services/data/v{version}/sobjects/{object_name}/{record['Id']}"}}
        for name in names:
            rendered[name] = record.get(name)
        return rendered

    # Persistence ---------------------------------------------------------------------------
    def snapshot(self) -> dict:
        with self.lock:
            data: dict[str, Any] = {name: [dict(record) for record in table.values()]
                                    for name, table in self.tables.items()}
            data[META_KEY] = {"format": 1, "counters": dict(self._counters), "clock": self.clock.last}
            return data

    def save(self, path: Path) -> None:
        payload = dumps(self.snapshot())
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_bytes(payload)
        os.replace(temporary, path)

    def load_file(self, path: Path) -> None:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"), parse_float=Decimal)
        except json.JSONDecodeError as error:
            raise SeedError(f"{path}: not JSON: {error}") from None
        self.load(data, origin=str(path))

    def load(self, data: dict, origin: str = "seed") -> None:
        """Replace every record with ``data`` (``{"<Object>": [record, ...]}``, as written by the
        demo-data generator or by ``save``). Raises SeedError on anything the model does not allow."""
        if not isinstance(data, dict):
            raise SeedError(f"{origin}: expected an object of object names")
        meta = data.get(META_KEY) or {}
        tables: dict[str, dict[str, dict]] = {name: {} for name in OBJECTS}
        clock = Clock()
        clock.observe(meta.get("clock"))
        clock.observe(self.clock.last)  # stamps never go back, even across a reset
        problems: list[str] = []
        pending_stamps: list[dict] = []
        for object_name, records in data.items():
            if object_name == META_KEY:
                continue
            definition = object_def(object_name)
            if definition is None:
                raise SeedError(f"{origin}: unknown object {object_name!r}")
            if not isinstance(records, list):
                raise SeedError(f"{origin}: {object_name} must be a list of records")
            for position, raw in enumerate(records):
                where = f"{origin}: {definition.name}[{position}]"
                if not isinstance(raw, dict):
                    raise SeedError(f"{where}: not an object")
                record = {name: (False if field.type == BOOLEAN else None)
                          for name, field in definition.fields.items()}
                for raw_name, raw_value in raw.items():
                    if raw_name == "attributes":
                        continue
                    field = definition.field(raw_name)
                    if field is None:
                        raise SeedError(f"{where}: unknown field {raw_name!r}")
                    if field.type == ID:
                        record["Id"] = ids.to_18(raw_value)
                        if record["Id"] is None or record["Id"][:3] != definition.key_prefix:
                            raise SeedError(f"{where}: Id {raw_value!r} is not an id with prefix "
                                            f"{definition.key_prefix}")
                        continue
                    try:
                        record[field.name] = convert_value(field, raw_value, "json")
                    except SalesforceError as error:
                        raise SeedError(f"{where}: {error.message}") from None
                    if field.type == REFERENCE and record[field.name] is not None:
                        record[field.name] = ids.to_18(record[field.name]) or record[field.name]
                if record["Id"] is None:
                    record["Id"] = ""  # assigned below, once every seeded id is known
                if record["Id"] and record["Id"] in tables[definition.name]:
                    raise SeedError(f"{where}: duplicate Id {record['Id']}")
                for stamp_field in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
                    clock.observe(record[stamp_field])
                if not record["SystemModstamp"]:
                    pending_stamps.append(record)
                tables[definition.name][record["Id"] or f"__pending{position}"] = record
        # Everything parsed: give ids and stamps to records that came without them.
        with self.lock:
            self.tables = {name: {} for name in OBJECTS}
            self._counters = {name: int((meta.get("counters") or {}).get(name, 0)) for name in OBJECTS}
            for name, table in tables.items():
                for record in table.values():
                    if record["Id"]:
                        self.tables[name][record["Id"]] = record
            for name, table in tables.items():
                definition = OBJECTS[name]
                for key, record in list(table.items()):
                    if not record["Id"]:
                        record["Id"] = self._next_id(definition)
                        self.tables[name][record["Id"]] = record
            self.clock = clock
            for record in pending_stamps:
                stamp = clock.tick()
                record["SystemModstamp"] = stamp
                record["LastModifiedDate"] = record["LastModifiedDate"] or stamp
                record["CreatedDate"] = record["CreatedDate"] or stamp
            for name, table in self.tables.items():
                for record in table.values():
                    for stamp_field in ("CreatedDate", "LastModifiedDate"):
                        record[stamp_field] = record[stamp_field] or record["SystemModstamp"]
            self._rebuild_indexes()
            problems.extend(self._integrity_problems())
            if problems:
                shown = "; ".join(problems[:5])
                more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
                self.tables = {name: {} for name in OBJECTS}
                self._rebuild_indexes()
                raise SeedError(f"{origin}: {shown}{more}")

    def _integrity_problems(self) -> list[str]:
        problems = []
        for name, definition in OBJECTS.items():
            for record in self.tables[name].values():
                for field in definition.fields.values():
                    value = record.get(field.name)
                    if field.type == REFERENCE and value is not None:
                        try:
                            self._check_reference(field, value)
                        except SalesforceError:
                            problems.append(f"{name} {record['Id']}: {field.name} points at no "
                                            f"{field.reference_to} ({value})")
            for field in definition.external_id_fields:
                if field.unique:
                    for key, bucket in self._indexes[name][field.name].items():
                        if len(bucket) > 1:
                            problems.append(f"{name}: {field.name} value {key!r} on {len(bucket)} records")
        return problems

    def clear(self) -> None:
        with self.lock:
            self.tables = {name: {} for name in OBJECTS}
            self._counters = {name: 0 for name in OBJECTS}
            self._rebuild_indexes()


def not_supported(name: str) -> SalesforceError:
    return SalesforceError(404, "NOT_FOUND", f"The requested resource does not exist: sObject type '{name}' "
                                             "is not supported.")
