"""Row-for-row comparison of the models two DuckDB warehouses hold, for the tests.

Every table and view of the given schemas is listed from each warehouse's information_schema (a
new model is compared without anyone listing it). A model differs when it is missing on one side,
when its columns or their types differ, or when its rows differ as multisets. Rows are compared as
the text of their exact values: a DECIMAL keeps its scale, so 1.50 and 1.5 differ, and nothing
goes through a float. Each warehouse is opened read-only on its own (its views resolve against
their own file), one after the other.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb


@dataclass
class ModelContents:
    columns: list[tuple[str, str]]  # (name, type) in column order
    rows: Counter  # tuple of the values as text (None for null) -> how many times


@dataclass
class ModelDifference:
    model: str  # schema.name
    problem: str
    columns: list[str] = field(default_factory=list)
    only_left: list[tuple] = field(default_factory=list)
    only_right: list[tuple] = field(default_factory=list)

    def describe(self, left: str, right: str, rows: int = 5) -> str:
        """The problem and the first differing rows; rows of the two sides sharing their first
        column (the key, in most models) are shown side by side, column by column."""
        lines = [f"{self.model}: {self.problem}"]
        right_by_key = {row[0]: row for row in self.only_right}
        shown_right = set()
        for row in self.only_left[:rows]:
            other = right_by_key.get(row[0])
            if other is None:
                lines.append(f"  only in {left}: {dict(zip(self.columns, row))}")
                continue
            shown_right.add(other)
            changed = {name: (mine, theirs) for name, mine, theirs in zip(self.columns, row, other) if mine != theirs}
            lines.append(f"  {self.columns[0]}={row[0]!r}: " + ", ".join(
                f"{name} {left}={mine!r} {right}={theirs!r}" for name, (mine, theirs) in changed.items()))
        for row in [row for row in self.only_right if row not in shown_right][:rows]:
            lines.append(f"  only in {right}: {dict(zip(self.columns, row))}")
        hidden = max(0, len(self.only_left) - rows) + max(0, len(self.only_right) - len(shown_right) - rows)
        if hidden:
            lines.append(f"  ... and {hidden} more differing rows")
        return "\n".join(lines)


def read_models(warehouse: Path, schemas: tuple[str, ...]) -> dict[str, ModelContents]:
    """Every table and view of ``schemas`` in ``warehouse``, its columns and its rows as text."""
    models: dict[str, ModelContents] = {}
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        connection.execute("set TimeZone = 'UTC'")  # timestamps with a time zone as text, alike on both sides
        relations = connection.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database() and table_schema in ? order by 1, 2",
            [list(schemas)]).fetchall()
        for schema, name in relations:
            columns = connection.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_catalog = current_database() and table_schema = ? and table_name = ? "
                "order by ordinal_position", [schema, name]).fetchall()
            as_text = ", ".join(f'cast("{column}" as varchar)' for column, _ in columns)
            rows = connection.execute(f'select {as_text} from "{schema}"."{name}"').fetchall()
            models[f"{schema}.{name}"] = ModelContents(columns=columns, rows=Counter(rows))
    return models


def compare_models(left: Path, right: Path, schemas: tuple[str, ...],
                   names: tuple[str, str] = ("left", "right")) -> tuple[list[str], list[ModelDifference]]:
    """The models compared (schema.name, every one either side holds) and their differences;
    ``names`` name the two warehouses in the problems reported."""
    mine, theirs = read_models(left, schemas), read_models(right, schemas)
    differences = []
    for model in sorted(mine.keys() | theirs.keys()):
        if model not in theirs or model not in mine:
            side = names[0] if model in mine else names[1]
            differences.append(ModelDifference(model, f"only in the {side} warehouse"))
            continue
        left_model, right_model = mine[model], theirs[model]
        if left_model.columns != right_model.columns:
            differences.append(ModelDifference(
                model, f"columns differ: {left_model.columns} against {right_model.columns}"))
            continue
        only_left = sorted(left_model.rows - right_model.rows, key=_sort_key)
        only_right = sorted(right_model.rows - left_model.rows, key=_sort_key)
        if only_left or only_right:
            extra_left = sum((left_model.rows - right_model.rows).values())
            extra_right = sum((right_model.rows - left_model.rows).values())
            differences.append(ModelDifference(
                model, f"{extra_left} rows only in {names[0]}, {extra_right} rows only in {names[1]} "
                       f"(of {sum(left_model.rows.values())} and {sum(right_model.rows.values())})",
                columns=[column for column, _ in left_model.columns], only_left=only_left, only_right=only_right))
    return sorted(mine.keys() | theirs.keys()), differences


def _sort_key(row: tuple) -> tuple:
    return tuple((value is None, value or "") for value in row)
