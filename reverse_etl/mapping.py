"""Declarative field mappings (YAML per destination), validated when they are loaded.

A mapping names, per destination object, the ``sync_*`` model it reads, the sync mode and how
each canonical column becomes an API field. Custom field IDs differ per account (the credit block
column is ``custcol_credit_block_id`` in one NetSuite account and
``custcol_vendor_credit_block_id`` in another), so a deployment points ``NETSUITE_FIELD_MAPPING``
/ ``SALESFORCE_FIELD_MAPPING`` at its own copy instead of editing code.
"""
from __future__ import annotations

import os
from collections.abc import Mapping as AbcMapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import yaml
from pydantic import (BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, ValidationError,
                      model_serializer, model_validator)

MAPPINGS_DIR = Path(__file__).parent / "mappings"
SYNC_SCHEMA = "reverse_etl_sync"
# A sync model may say why a row must not be sent yet (a billing period not final, ...): the row
# is planned as ``blocked`` with that reason instead of being sent.
BLOCKED_REASON_COLUMN = "sync_blocked_reason"
SETTINGS_BY_DESTINATION = {"netsuite": "NETSUITE_FIELD_MAPPING", "salesforce": "SALESFORCE_FIELD_MAPPING"}


class FieldMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str
    type: Literal["string", "decimal", "date", "reference", "boolean"]
    required: bool = False
    # Leave a zero amount out (a NetSuite journal line takes exactly one of debit or credit).
    omit_zero: bool = False
    # Send an empty value as null, which clears the field on update (an Account's usage alert
    # once it has ended). Otherwise an empty value is left out and the field keeps what it holds.
    clear_when_null: bool = False

    @model_validator(mode="after")
    def _clearing_is_optional(self) -> "FieldMapping":
        if self.required and self.clear_when_null:
            raise ValueError(f"{self.field}: a required field is never null, clear_when_null does not apply")
        return self

    @model_serializer(mode="wrap")
    def _without_unset_clearing(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The serialized mapping is part of every content hash (engine.mapping_fingerprint): a
        # field that does not clear serializes as before the option existed, so adding it did
        # not make every object of every destination be sent again.
        serialized = handler(self)
        if not self.clear_when_null:
            serialized.pop("clear_when_null", None)
        return serialized


def _fields_payload(model: str, fields: Mapping[str, FieldMapping], row: Mapping[str, Any],
                    label: str) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for column, mapping in fields.items():
        value = row.get(column)
        if value is None:
            if mapping.required:
                raise MappingError(f"{model} row {label}: required column {column!r} is empty")
            if mapping.clear_when_null:
                payload[mapping.field] = None
            continue
        converted = _convert(value, mapping.type)
        if mapping.omit_zero and converted == 0:
            continue
        payload[mapping.field] = converted
    return payload


class SublistMapping(BaseModel):
    """Lines sent inside their record (a journal entry's ``line`` sublist): one sync-model row
    per line, the record's own fields repeated on each."""

    model_config = ConfigDict(extra="forbid")
    name: str
    order_by: str
    fields: dict[str, FieldMapping]


class ObjectMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str
    record_type: str
    # upsert: create or update by the key. update_only: the record must exist already (an
    # Account's fields). There is no delete: finance records are corrected by reversals.
    mode: Literal["upsert", "update_only"]
    key: str
    fields: dict[str, FieldMapping]
    sublist: SublistMapping | None = None
    # After this many business errors (4xx other than 429) a record is dead-lettered.
    max_attempts: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _key_is_mapped(self) -> "ObjectMapping":
        if self.key not in self.fields:
            raise ValueError(f"key column {self.key!r} has no field mapping")
        return self

    @property
    def key_field(self) -> str:
        return self.fields[self.key].field

    def columns(self) -> set[str]:
        """The sync-model columns this mapping reads."""
        columns = set(self.fields)
        if self.sublist:
            columns |= set(self.sublist.fields) | {self.sublist.order_by}
        return columns

    def payload(self, rows: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> dict[str, Any]:
        """The destination payload of one record: its sync-model row, or its rows (one per line)
        when the object has a sublist. A missing required value is an error naming the row."""
        # collections.abc, not typing: typing's alias makes this check ~20x slower, per record.
        rows = [rows] if isinstance(rows, AbcMapping) else list(rows)
        label = repr(rows[0].get(self.key))
        payload = _fields_payload(self.model, self.fields, rows[0], label)
        if self.sublist:
            lines = sorted(rows, key=lambda row: row[self.sublist.order_by])
            payload[self.sublist.name] = {"items": [
                _fields_payload(self.model, self.sublist.fields, row,
                                f"{label} line {row.get(self.sublist.order_by)!r}")
                for row in lines]}
        return payload


class DestinationMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    objects: dict[str, ObjectMapping]


class MappingError(ValueError):
    """A mapping that cannot be used, or a row it cannot turn into a payload."""


def _convert(value: Any, kind: str) -> Any:
    if kind == "reference":
        return {"id": str(value)}
    if kind == "decimal":
        # Plain digits without trailing zeros: 12.500000000 -> 12.5, and 100 stays 100, not 1E+2.
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        return Decimal(format(number.normalize(), "f"))
    if kind == "date":
        return value.isoformat() if isinstance(value, date) else str(value)
    if kind == "boolean":
        return bool(value)
    return str(value)


def mapping_path(destination: str, environment: Mapping[str, str] | None = None) -> Path:
    """The mapping file of a destination: the deployment's copy when its setting names one."""
    environment = os.environ if environment is None else environment
    configured = environment.get(SETTINGS_BY_DESTINATION.get(destination, ""), "")
    return Path(configured) if configured else MAPPINGS_DIR / f"{destination}.yml"


def load_mapping(destination: str, path: Path | None = None) -> DestinationMapping:
    """Load and validate a destination's mapping; every problem is named in one error."""
    path = path or mapping_path(destination)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise MappingError(f"field mapping {path}: cannot be read: {error}") from error
    try:
        return DestinationMapping.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise MappingError(f"field mapping {path}: {problems}") from None


def check_against_warehouse(mapping: DestinationMapping, model_columns: Mapping[str, set[str]],
                            path: Path | str = "") -> None:
    """Start-up check of a mapping against the sync models that exist: one line per problem
    (a model that is not built, a mapped column the model does not have)."""
    problems = []
    for name, obj in mapping.objects.items():
        columns = model_columns.get(obj.model)
        if columns is None:
            problems.append(f"objects.{name}.model: {obj.model} is not in the warehouse (build it with dbt first)")
            continue
        for column in sorted(obj.columns() - columns):
            problems.append(f"objects.{name}: column {column!r} is not a column of {obj.model}")
    if problems:
        raise MappingError(f"field mapping {path}: " + "; ".join(problems))
