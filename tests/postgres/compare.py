"""Read a dbt model's relation from DuckDB and from PostgreSQL into comparable rows.

Values are compared as what they mean, not as each driver's Python type: a number is its exact
decimal (an integer count from DuckDB's HUGEINT and PostgreSQL's NUMERIC sum are the same
number), a timestamp with zone is its UTC instant, JSON is its parsed structure. Floats are not
made equal by rounding: the project has none, and one would show as a difference.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal


def canonical(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, Decimal)):
        number = Decimal(value)
        return "0" if number == 0 else format(number.normalize(), "f")
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat()
    if isinstance(value, (list, tuple)):
        return tuple(canonical(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@dataclass
class Relation:
    columns: list[str]
    rows: list[tuple] = field(default_factory=list)


def _sorted(rows: list[tuple]) -> list[tuple]:
    return sorted(rows, key=lambda row: tuple((value is None, repr(value)) for value in row))


def _relation(columns: list[str], rows: list[tuple], drop: set[str]) -> Relation:
    kept = [position for position, column in enumerate(columns) if column not in drop]
    return Relation([columns[position] for position in kept],
                    _sorted([tuple(canonical(row[position]) for position in kept) for row in rows]))


def duckdb_relation(connection, schema: str, name: str, drop: set[str] = frozenset()) -> Relation:
    cursor = connection.execute(f'select * from "{schema}"."{name}"')
    return _relation([column[0] for column in cursor.description], cursor.fetchall(), drop)


def postgres_relation(connection, schema: str, name: str, drop: set[str] = frozenset()) -> Relation:
    with connection.cursor() as cursor:
        cursor.execute(f'select * from "{schema}"."{name}"')
        return _relation([column.name for column in cursor.description], cursor.fetchall(), drop)


def differences(expected: Relation, actual: Relation, limit: int = 5) -> str | None:
    """None when both hold the same columns, in the same order, and the same rows (as a
    multiset); else what differs: the columns, or up to ``limit`` rows only one side has."""
    if expected.columns != actual.columns:
        return f"columns differ: DuckDB {expected.columns} / PostgreSQL {actual.columns}"
    only_expected = []
    counts = Counter(actual.rows)
    for row in expected.rows:
        if counts[row] > 0:
            counts[row] -= 1
        else:
            only_expected.append(row)
    only_actual = list(counts.elements())
    if not only_expected and not only_actual:
        return None
    lines = [f"{len(expected.rows)} rows in DuckDB, {len(actual.rows)} in PostgreSQL; columns {expected.columns}"]
    lines += [f"  only in DuckDB:     {row}" for row in only_expected[:limit]]
    lines += [f"  only in PostgreSQL: {row}" for row in _sorted(only_actual)[:limit]]
    return "\n".join(lines)
