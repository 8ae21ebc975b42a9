"""Create, upsert, update, delete and read records, with every check NetSuite makes.

Each operation runs under the store lock and validates everything before it writes anything,
so a rejected request leaves no trace.
"""
from __future__ import annotations

import copy
from typing import Any

from emulators.netsuite.errors import NetSuiteError, invalid_content, not_found, user_error
from emulators.netsuite.records import (
    SPECS, TYPE_RULES, check_required, normalize_body, spec_for,
)
from emulators.netsuite.store import Store

EID_PREFIX = "eid:"


class RecordService:
    def __init__(self, store: Store) -> None:
        self.store = store

    # Lookup -------------------------------------------------------------------------------------
    def find(self, record_type: str, key: str) -> dict | None:
        spec_for(record_type)
        if key.startswith(EID_PREFIX):
            internal_id = self.store.id_for_external(record_type, key[len(EID_PREFIX):])
            return None if internal_id is None else self.store.get(record_type, internal_id)
        return self.store.get(record_type, key)

    def require(self, record_type: str, key: str) -> dict:
        record = self.find(record_type, key)
        if record is None:
            raise not_found(f"The record instance does not exist. Provide a valid record instance ID "
                            f"({record_type} {key}).", "id")
        return record

    def read(self, record_type: str, key: str) -> dict:
        """A record as GET returns it (subscriptions with their lines), without links."""
        with self.store.lock:
            record = copy.deepcopy(self.require(record_type, key))
            if record_type == "subscription":
                lines = [copy.deepcopy(line) for line in self.store.all("subscriptionline")
                         if line["subscription"]["id"] == record["id"]]
                lines.sort(key=lambda line: line.get("lineNumber") or 0)
                record["subscriptionLine"] = {"items": lines}
            return record

    # Writes -------------------------------------------------------------------------------------
    def create(self, record_type: str, body: Any) -> str:
        spec = spec_for(record_type)
        with self.store.lock:
            fields = normalize_body(self.store, spec, body)
            external_id = fields.get("externalId")
            if external_id is not None and self.store.id_for_external(record_type, external_id) is not None:
                raise user_error(f"A {record_type} record with the external ID '{external_id}' already exists.",
                                 "externalId")
            record = {name: value for name, value in fields.items() if value is not None}
            return self._save(record_type, record, new=True)

    def upsert(self, record_type: str, external_id: str, body: Any, replace: set[str]) -> str:
        spec = spec_for(record_type)
        with self.store.lock:
            if isinstance(body, dict) and body.get("externalId") not in (None, external_id):
                raise user_error("The externalId in the body differs from the one in the URL.", "externalId")
            existing_id = self.store.id_for_external(record_type, external_id)
            if existing_id is None:
                fields = normalize_body(self.store, spec, body)
                record = {name: value for name, value in fields.items() if value is not None}
                record["externalId"] = external_id
                return self._save(record_type, record, new=True)
            return self._update(record_type, self.store.get(record_type, existing_id), body, replace)

    def update(self, record_type: str, key: str, body: Any, replace: set[str]) -> str:
        spec_for(record_type)
        with self.store.lock:
            return self._update(record_type, self.require(record_type, key), body, replace)

    def delete(self, record_type: str, key: str) -> None:
        with self.store.lock:
            record = self.require(record_type, key)
            if record_type == "subscription":
                for line in self.store.all("subscriptionline"):
                    if line["subscription"]["id"] == record["id"]:
                        self.store.delete("subscriptionline", line["id"])
            self.store.delete(record_type, record["id"])

    # Internals ----------------------------------------------------------------------------------
    def _update(self, record_type: str, existing: dict, body: Any, replace: set[str]) -> str:
        spec = SPECS[record_type]
        fields = normalize_body(self.store, spec, body)
        external_id = fields.get("externalId")
        if external_id is not None:
            owner = self.store.id_for_external(record_type, external_id)
            if owner is not None and owner != existing["id"]:
                raise user_error(f"A {record_type} record with the external ID '{external_id}' already exists.",
                                 "externalId")
        record = copy.deepcopy(existing)
        for name, value in fields.items():
            if name in spec.sublists and name != "subscriptionLine":
                if name in replace or name not in record:
                    record[name] = value
                else:  # NetSuite adds the sent lines to the sublist unless told to replace it
                    record[name] = {"items": record[name]["items"] + value["items"]}
            elif value is None:
                record.pop(name, None)
            else:
                record[name] = value
        return self._save(record_type, record, new=False)

    def _save(self, record_type: str, record: dict, *, new: bool) -> str:
        """Check the complete record, then write it (and a subscription's lines)."""
        spec = SPECS[record_type]
        lines = record.pop("subscriptionLine", None) if record_type == "subscription" else None
        check_required(spec, record)
        rule = TYPE_RULES.get(record_type)
        if rule:
            rule(self.store, record)
        if record_type == "subscriptionline":
            self._check_line_number(record)
        line_plan = self._plan_subscription_lines(record, lines) if lines else []
        if new:
            internal_id = self.store.insert(record_type, record)
        else:
            self.store.replace(record_type, record)
            internal_id = record["id"]
        for existing, line in line_plan:
            line["subscription"] = {"id": internal_id}
            if existing is None:
                self.store.insert("subscriptionline", line)
            else:
                self.store.replace("subscriptionline", line)
        return internal_id

    def _check_line_number(self, record: dict) -> None:
        if record.get("lineNumber") is None:
            numbers = [line.get("lineNumber") or 0 for line in self.store.all("subscriptionline")
                       if line["subscription"]["id"] == record["subscription"]["id"]]
            record["lineNumber"] = max(numbers, default=0) + 1

    def _plan_subscription_lines(self, subscription: dict, lines: dict) -> list[tuple[dict | None, dict]]:
        """Lines sent with a subscription: a line naming an existing line of the subscription (by
        ``id`` or ``externalId``) updates it; any other line is added."""
        own = [line for line in self.store.all("subscriptionline")
               if subscription.get("id") and line["subscription"]["id"] == subscription["id"]]
        next_number = max((line.get("lineNumber") or 0 for line in own), default=0) + 1
        plan: list[tuple[dict | None, dict]] = []
        seen_external: set[str] = set()
        for index, sent in enumerate(lines["items"]):
            path = f"subscriptionLine.items[{index}]"
            match = None
            for line in own:
                if sent.get("id") == line["id"] or (
                        sent.get("externalId") is not None and sent.get("externalId") == line.get("externalId")):
                    match = line
            if sent.get("id") and match is None:
                raise invalid_content(f"Subscription line {sent['id']} is not a line of this subscription.",
                                      path + ".id")
            merged = copy.deepcopy(match) if match else {}
            merged.update({name: value for name, value in sent.items() if value is not None and name != "id"})
            external_id = merged.get("externalId")
            if external_id is not None:
                owner = self.store.id_for_external("subscriptionline", external_id)
                if (owner is not None and (match is None or owner != match["id"])) or external_id in seen_external:
                    raise user_error(f"A subscriptionline record with the external ID '{external_id}' "
                                     f"already exists.", path + ".externalId")
                seen_external.add(external_id)
            if merged.get("item") is None:
                raise user_error("Please enter value(s) for: item", path + ".item")
            if merged.get("lineNumber") is None:
                merged["lineNumber"] = next_number
                next_number += 1
            plan.append((match, merged))
        return plan


def replace_sublists(record_type: str, raw: str | None) -> set[str]:
    """``?replace=line,item`` names the sublists a PUT/PATCH replaces instead of adding to."""
    if not raw:
        return set()
    names = {name.strip() for name in raw.split(",") if name.strip()}
    known = set(SPECS[record_type].sublists) if record_type in SPECS else set()
    unknown = names - known
    if unknown:
        raise NetSuiteError(400, "INVALID_PARAMETER",
                            f"Invalid value for query parameter replace: {', '.join(sorted(unknown))}.",
                            path="replace")
    return names
