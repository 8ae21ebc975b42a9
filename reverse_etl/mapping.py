"""Declarative field mappings (YAML per destination), validated when they are loaded."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

MAPPINGS_DIR = Path(__file__).parent / "mappings"


class FieldMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str
    type: Literal["string", "decimal", "date", "reference", "boolean"]
    required: bool = False


class ObjectMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str
    record_type: str
    mode: Literal["upsert", "update_only"]
    key: str
    fields: dict[str, FieldMapping]

    @model_validator(mode="after")
    def _key_is_mapped(self) -> "ObjectMapping":
        if self.key not in self.fields:
            raise ValueError(f"key column {self.key!r} has no field mapping")
        return self

    def payload(self, row: dict[str, Any]) -> dict[str, Any]:
        """The destination payload of one sync-model row; a missing required value is an error."""
        payload: dict[str, Any] = {}
        for column, mapping in self.fields.items():
            value = row.get(column)
            if value is None:
                if mapping.required:
                    raise ValueError(f"{self.model} row {row.get(self.key)!r}: required column {column!r} is empty")
                continue
            payload[mapping.field] = _convert(value, mapping.type)
        return payload


class DestinationMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    objects: dict[str, ObjectMapping]


def _convert(value: Any, kind: str) -> Any:
    if kind == "reference":
        return {"id": str(value)}
    if kind == "decimal":
        # Plain digits without trailing zeros: 12.500000000 -> 12.5, and 100 stays 100, not 1E+2.
        return Decimal(format(Decimal(str(value)).normalize(), "f"))
    if kind == "date":
        return value.isoformat() if isinstance(value, date) else str(value)
    return value


def load_mapping(destination: str, path: Path | None = None) -> DestinationMapping:
    """Load and validate a destination's mapping; every problem is named in one error."""
    path = path or MAPPINGS_DIR / f"{destination}.yml"
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"field mapping {path}: cannot be read: {error}") from error
    try:
        return DestinationMapping.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ValueError(f"field mapping {path}: {problems}") from None
