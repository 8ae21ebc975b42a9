"""Reading batches of usage event files into Arrow tables of text columns.

Every value is kept as delivered, as text, so that a malformed value (a quantity of "twelve", a
timestamp of "yesterday", a line that is not JSON at all) reaches the warehouse and is classified
by staging, never dropped by a reader. A batch of files is read by one DuckDB query: a
connection and a query per small file would cost more than the reading.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

EVENT_COLUMNS = ("event_id", "customer_id", "meter", "quantity", "amount", "timestamp", "properties", "source")
READER_COLUMNS = (*EVENT_COLUMNS, "raw_payload", "parse_error", "file_row")
# Columns with few distinct values per file: dictionary-encoded. The others (event IDs, times,
# quantities) would only fill a dictionary page and fall back to plain encoding, at a cost.
LOW_CARDINALITY = ("customer_id", "meter", "source", "parse_error", "file_name", "_dlt_load_id")
FILE_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


def file_format(path: str) -> str | None:
    for suffix, name in FILE_FORMATS.items():
        if path.endswith(suffix):
            return name
    return None


def read_jsonl_files(con: duckdb.DuckDBPyConnection, files: list[bytes]) -> pa.Table:
    """One row per non-blank line of each file, with ``file_index`` (position in ``files``).

    The line itself travels as ``raw_payload``. Lines are split here and parsed by DuckDB with
    ``json_valid`` as a guard, so one broken line becomes one row with a ``parse_error`` instead
    of failing the whole file.
    """
    file_index, line_numbers, payloads = [], [], []
    for index, data in enumerate(files):
        lines = data.decode("utf-8", errors="replace").split("\n")
        for number, line in enumerate(lines, start=1):
            if line.strip():
                file_index.append(index)
                line_numbers.append(number)
                payloads.append(line.rstrip("\r"))
    raw = pa.table({"file_index": pa.array(file_index, pa.int32()),
                    "line_number": pa.array(line_numbers, pa.int64()),
                    "raw_payload": pa.array(payloads, pa.string())})
    con.register("raw_lines", raw)
    try:
        return con.sql(_JSONL_QUERY).to_arrow_table()
    finally:
        con.unregister("raw_lines")


_JSONL_QUERY = f"""
    with parsed as (
        select
            file_index,
            line_number,
            raw_payload,
            json_valid(raw_payload) as is_json
        from raw_lines
    ),
    typed as (
        select
            *,
            -- CASE, not AND: DuckDB evaluates both sides of AND, and json_type fails on non-JSON.
            case when is_json then json_type(raw_payload) = 'OBJECT' else false end as is_object
        from parsed
    ),
    extracted as (
        select
            *,
            case
                when is_object then json_extract_string(
                    raw_payload, [{", ".join(f"'$.{name}'" for name in EVENT_COLUMNS)}])
            end as fields,
            -- Properties sent as an object keep their JSON text; sent as a string, its content.
            case
                when not is_object then null
                when json_type(raw_payload, '$.properties') = 'VARCHAR'
                    then json_extract_string(raw_payload, '$.properties')
                else json_extract(raw_payload, '$.properties')::varchar
            end as properties_json
        from typed
    )
    select
        {", ".join(f'fields[{position}] as "{name}"' if name != "properties" else "properties_json as properties"
                   for position, name in enumerate(EVENT_COLUMNS, start=1))},
        raw_payload,
        case
            when not is_json then 'not valid JSON'
            when not is_object then 'not a JSON object'
        end as parse_error,
        line_number as file_row,
        file_index
    from extracted
"""


def read_parquet_files(con: duckdb.DuckDBPyConnection, paths: list[str]) -> pa.Table:
    """Every row of the files in one parallel scan, with ``file_index`` (position in ``paths``).

    A Parquet row is its own raw payload: the file's columns are kept as delivered, as text
    (no JSON copy of each row), columns beyond the event fields included, so nothing the
    producer sent is lost. Nested values become JSON text, as the JSON Lines reader makes them.
    """
    scan = _parquet_scan(paths)
    selected = parquet_select_list(parquet_columns(con, paths))
    # The file name cast to an ENUM of the batch's paths reaches Arrow as a dictionary whose
    # indices are the file positions: no file name string per row to convert and look up
    # (measured: 2.8 s against 1.5 s to read 10M events).
    con.execute(f"create or replace type batch_file as enum ({', '.join(_sql_text(path) for path in paths)})")
    table = con.sql(f"select {', '.join(selected)}, {SCAN}.filename::batch_file as file_index "
                    f"from {scan}").to_arrow_table()
    index = pa.chunked_array([chunk.indices.cast(pa.int32()) for chunk in table["file_index"].chunks], pa.int32())
    return table.set_column(table.schema.get_field_index("file_index"), "file_index", index)


def parquet_columns(con: duckdb.DuckDBPyConnection, paths: list[str]) -> dict[str, str]:
    """The columns of the files (union by name) and their DuckDB types. Reads the footers only:
    a file that is not Parquet, or truncated, fails here."""
    described = con.sql(f"describe select {SCAN}.* from {_parquet_scan(paths)}").fetchall()
    return {name: data_type for name, data_type, *_ in described
            if name not in ("filename", "file_row_number")}


def parquet_row_count(con: duckdb.DuckDBPyConnection, paths: list[str]) -> int:
    listing = "[" + ", ".join(_sql_text(path) for path in paths) + "]"
    return con.sql(f"select coalesce(sum(num_rows), 0) from parquet_file_metadata({listing})").fetchall()[0][0]


def parquet_select_list(types: dict[str, str]) -> list[str]:
    """The reader columns of a Parquet scan (``_parquet_scan``), every value as text; the
    columns beyond the event fields (``extra_columns``) after them."""
    selected = [_as_text(name, types[name], SCAN) if name in types else f"null::varchar as {_sql_name(name)}"
                for name in EVENT_COLUMNS]
    selected += ["null::varchar as raw_payload", "null::varchar as parse_error",
                 f"{SCAN}.file_row_number + 1 as file_row"]
    return selected + [_as_text(name, types[name], SCAN) for name in extra_columns(types)]


def extra_columns(types: dict[str, str]) -> list[str]:
    return [name for name in types if name not in EVENT_COLUMNS]


def parquet_load_query(files: list[tuple[str, str, int]], types: dict[str, str], load_id: str) -> str:
    """The SELECT the warehouse runs to load Parquet files it can read itself: the rows of
    ``files`` (path, file name, version), each tagged with its file, version and load ID.
    The tags come from a join on the scan's file name: per file, not per row."""
    tags = ", ".join(f"({_sql_text(path)}, {_sql_text(name)}, {version})" for path, name, version in files)
    return (f"select {', '.join(parquet_select_list(types))}, "
            f"delivered_file.file_name, delivered_file.file_version, {_sql_text(load_id)} as _dlt_load_id "
            f"from {_parquet_scan([path for path, _, _ in files])} "
            f"join (values {tags}) as delivered_file(path, file_name, file_version) "
            f"on delivered_file.path = {SCAN}.filename")


SCAN = "delivered_row"  # the scan's alias: a producer's column may share a name with ours


def _parquet_scan(paths: list[str]) -> str:
    listing = "[" + ", ".join(_sql_text(path) for path in paths) + "]"
    return f"read_parquet({listing}, filename = true, file_row_number = true, union_by_name = true) as {SCAN}"


def _as_text(name: str, data_type: str, scan: str) -> str:
    column = f"{scan}.{_sql_name(name)}"
    if data_type == "VARCHAR":
        return f"{column} as {_sql_name(name)}"
    if data_type.endswith("]") or data_type.startswith(("STRUCT", "MAP", "UNION")):
        return f"to_json({column})::varchar as {_sql_name(name)}"
    return f"cast({column} as varchar) as {_sql_name(name)}"


def _sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def unreadable_file_rows(error: Exception, file_index: int) -> pa.Table:
    """The one row an unreadable file leaves: staging quarantines it with the reader's message,
    and a rewrite of the file (its next version) loads its events."""
    columns = {name: pa.nulls(1, pa.string()) for name in READER_COLUMNS}
    columns["parse_error"] = pa.array([f"file cannot be read: {error}"], pa.string())
    columns["file_row"] = pa.array([0], pa.int64())
    columns["file_index"] = pa.array([file_index], pa.int32())
    return pa.table(columns)


def per_file_column(file_index: pa.ChunkedArray, values: list, data_type: pa.DataType) -> pa.ChunkedArray:
    """A file-level value (name, version, delivery day) on each row, looked up by the row's file
    index: vectorized, never a Python list as long as the table. Text becomes a dictionary
    column (the index is the dictionary's), which costs nothing per row."""
    dictionary = pa.array(values, data_type)
    if pa.types.is_string(data_type):
        return pa.chunked_array([pa.DictionaryArray.from_arrays(chunk, dictionary) for chunk in file_index.chunks],
                                pa.dictionary(pa.int32(), data_type))
    return pc.take(dictionary, file_index)


@dataclass(frozen=True)
class LoadFile:
    path: str
    rows: int
    schema: pa.Schema


class LoadFileWriter:
    """Appends Arrow tables to one Parquet file for dlt to import, starting another file only
    when the schema changes (a Parquet file holds one schema: a batch may bring an extra column).

    Settings for a file read once, whole, by the load: snappy, dictionaries only where they pay,
    no column statistics. Measured on 10M events: 3.1 s against 4.9 s with pyarrow's defaults,
    and the load reads it no slower.
    """

    def __init__(self, directory: str, name: str) -> None:
        self._directory = directory
        self._name = name
        self._files: list[LoadFile] = []
        self._writer: pq.ParquetWriter | None = None
        self._rows = 0

    def write(self, table: pa.Table) -> None:
        if self._writer is not None and not self._writer.schema.equals(table.schema):
            self._finish()
        if self._writer is None:
            path = os.path.join(self._directory, f"{self._name}.{len(self._files)}.parquet")
            dictionary = [name for name in table.column_names if name in LOW_CARDINALITY]
            self._writer = pq.ParquetWriter(path, table.schema, compression="snappy",
                                            use_dictionary=dictionary, write_statistics=False)
            self._files.append(LoadFile(path, 0, table.schema))
        self._writer.write_table(table)
        self._rows += table.num_rows

    def close(self) -> list[LoadFile]:
        self._finish()
        return self._files

    def _finish(self) -> None:
        if self._writer is not None:
            self._writer.close()
            last = self._files[-1]
            self._files[-1] = LoadFile(last.path, self._rows, last.schema)
            self._writer, self._rows = None, 0
