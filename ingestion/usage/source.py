"""dlt source over usage event files in a folder (local by default, any fsspec URL).

Every column is read as text so that a malformed value (a quantity of "twelve", a timestamp of
"yesterday") arrives in the warehouse and is classified there, never dropped by a reader.
Files travel as Arrow tables: dlt loads those without a row-by-row Python pass.
"""
from __future__ import annotations

import json
import re
from typing import Iterator

import dlt
import duckdb
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

EVENT_COLUMNS = ("event_id", "customer_id", "meter", "quantity", "amount", "timestamp", "properties", "source")
DELIVERY_FOLDER = re.compile(r"/(\d{4}-\d{2}-\d{2})/[^/]+$")
WATERMARK_FILE = "_watermark.json"


def _fingerprint(info: dict) -> str:
    # Size and modification time: a file rewritten in place is loaded again.
    return f"{info.get('size')}:{info.get('mtime') or info.get('LastModified') or info.get('last_modified')}"


def _read_jsonl(fs: fsspec.AbstractFileSystem, path: str) -> pa.Table:
    columns = {name: "VARCHAR" for name in EVENT_COLUMNS}
    columns["properties"] = "JSON"
    with fs.open(path, "rb") as handle, duckdb.connect() as con:
        table = con.read_json(handle, columns=columns, format="newline_delimited").to_arrow_table()
    return table.cast(pa.schema([(name, pa.string()) for name in EVENT_COLUMNS]))


def _read_parquet(fs: fsspec.AbstractFileSystem, path: str) -> pa.Table:
    with fs.open(path, "rb") as handle:
        table = pq.read_table(handle)
    arrays = []
    for name in EVENT_COLUMNS:
        if name in table.column_names:
            arrays.append(table[name].cast(pa.string()))
        else:
            arrays.append(pa.nulls(table.num_rows, pa.string()))
    return pa.table(arrays, names=list(EVENT_COLUMNS))


def _with_file_columns(table: pa.Table, relative_path: str) -> pa.Table:
    delivered = DELIVERY_FOLDER.search("/" + relative_path)
    rows = table.num_rows
    table = table.append_column("file_name", pa.array([relative_path] * rows, pa.string()))
    table = table.append_column("file_row", pa.array(range(1, rows + 1), pa.int64()))
    return table.append_column(
        "delivered_on", pa.array([delivered.group(1) if delivered else None] * rows, pa.string()))


def _event_files(fs: fsspec.AbstractFileSystem, root: str) -> list[tuple[str, dict]]:
    found = fs.find(root, detail=True)
    return sorted((path, info) for path, info in found.items()
                  if path.endswith((".jsonl", ".parquet")))


@dlt.source(name="usage")
def usage_source(root: str) -> Iterator:
    """``root``: folder or fsspec URL holding ``<source>/<YYYY-MM-DD>/events-*.{jsonl,parquet}``."""
    fs, base = fsspec.core.url_to_fs(root)
    base = base.rstrip("/")

    @dlt.resource(name="usage_events", write_disposition="append")
    def usage_events() -> Iterator[pa.Table]:
        state = dlt.current.resource_state().setdefault("loaded_files", {})
        for path, info in _event_files(fs, base):
            relative = path[len(base):].lstrip("/")
            fingerprint = _fingerprint(info)
            if state.get(relative) == fingerprint:
                continue
            reader = _read_parquet if path.endswith(".parquet") else _read_jsonl
            try:
                table = reader(fs, path)
            except Exception as error:
                raise ValueError(f"usage file {relative} cannot be read: {error}") from error
            yield _with_file_columns(table, relative)
            state[relative] = fingerprint

    @dlt.resource(name="usage_watermarks", write_disposition="merge", primary_key="source")
    def usage_watermarks() -> Iterator[dict]:
        for path in sorted(fs.glob(f"{base}/*/{WATERMARK_FILE}")):
            with fs.open(path, "r") as handle:
                mark = json.load(handle)
            if not mark.get("source") or not mark.get("complete_through"):
                raise ValueError(f"watermark {path} needs 'source' and 'complete_through'")
            yield {"source": mark["source"], "complete_through": mark["complete_through"],
                   "file_name": path[len(base):].lstrip("/")}

    return usage_events, usage_watermarks
