"""dlt source over usage event files in a folder (local by default, any fsspec URL).

Layout: ``<root>/<source>/<YYYY-MM-DD>/events-*.{jsonl,parquet}`` plus ``<root>/<source>/_watermark.json``.

Incremental by file. ``usage_files`` lists the files and keeps, in dlt state, each file's size and
modification time (cheap to compare) and the SHA-256 of its content. A file whose size or time
changed is hashed: same content means it was only touched; other content is a rewrite, loaded
again as the file's next version. ``usage_events`` tags every row of each new file version with
its file, version and row number: local Parquet files through a SQL model the warehouse runs,
the others read into Arrow here. Staging reads the newest version of each file, so a rewrite
replaces the rows of the version before it, which stay in raw for the audit.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timezone
from typing import Iterator

import dlt
import duckdb
from dlt.common.destination.client import SqlModel
import fsspec
import pyarrow as pa
import pyarrow.compute as pc
from fsspec.implementations.local import LocalFileSystem

from ingestion.usage.files import (
    EVENT_COLUMNS,
    LoadFileWriter,
    extra_columns,
    file_format,
    parquet_columns,
    parquet_load_query,
    parquet_row_count,
    per_file_column,
    read_jsonl_files,
    read_parquet_files,
    unreadable_file_rows,
)

DELIVERY_FOLDER = re.compile(r"^[^/]+/(\d{4}-\d{2}-\d{2})/[^/]+$")
WATERMARK_FILE = "_watermark.json"
# A batch of files becomes one Arrow table: big enough that per-table costs vanish, small
# enough that two in memory (one read while the other is written) stay far below the target.
BATCH_BYTES = 16 * 1024 * 1024
BATCH_FILES = 500
# Parquet files per SQL model (one INSERT each in the load): bounds the length of the query.
MODEL_FILES = 5000

# Staging casts these columns from text; a producer that changes a type must fail the load
# with the column named, while a new column (an extra field in a Parquet file) evolves in.
USAGE_CONTRACT = {"tables": "evolve", "columns": "evolve", "data_type": "freeze"}
EVENT_COLUMN_HINTS = {
    **{name: {"data_type": "text", "nullable": True} for name in EVENT_COLUMNS},
    "raw_payload": {"data_type": "text", "nullable": True},
    "parse_error": {"data_type": "text", "nullable": True},
    "file_row": {"data_type": "bigint", "nullable": False},
    "file_name": {"data_type": "text", "nullable": False},
    "file_version": {"data_type": "bigint", "nullable": False},
    "_dlt_load_id": {"data_type": "text", "nullable": False},
}


def _fingerprint(info: dict) -> str | None:
    """Size and modification marker (mtime, S3's LastModified or ETag...), cheap to compare.
    None when the filesystem reports no marker: such files are hashed on every run."""
    modified = next((info[key] for key in ("mtime", "LastModified", "last_modified", "ETag", "etag", "created")
                     if info.get(key)), None)
    return None if modified is None else f"{info.get('size')}:{modified}"


def _check_unchanged(fs: fsspec.AbstractFileSystem, base: str, files: list[dict]) -> None:
    """Fail the load if a file changed between listing and reading. One listing for the run, by
    the same call as the first (``info`` may report the marker in another form); a file with no
    marker is hashed again."""
    listing = fs.find(base, detail=True)
    for file in files:
        if file["fingerprint"] is None:
            with fs.open(file["path"], "rb") as handle:
                unchanged = hashlib.sha256(handle.read()).hexdigest() == file["sha256"]
        else:
            unchanged = file["path"] in listing and _fingerprint(listing[file["path"]]) == file["fingerprint"]
        if not unchanged:
            raise UsageFileChanged(
                f"usage file {file['file_name']} changed while it was being loaded; run the load again")


def _batches(files: list[dict]) -> list[list[dict]]:
    """Files grouped into batches of about ``BATCH_BYTES``: each batch is one Arrow table."""
    batches: list[list[dict]] = [[]]
    size = 0
    for file in files:
        if batches[-1] and (size >= BATCH_BYTES or len(batches[-1]) >= BATCH_FILES):
            batches.append([])
            size = 0
        batches[-1].append(file)
        size += file["size_bytes"] or 0
    return batches


def _read_tagged_batch(fs: fsspec.AbstractFileSystem, files: list[dict], load_id: str) -> pa.Table:
    """A batch of files as one Arrow table, each row tagged with its file, version and load ID.
    (The delivery day is the file's, in ``usage_files``: a column per row would cost the load.)"""
    with duckdb.connect(config={"threads": os.cpu_count() or 1}) as con:
        if not isinstance(fs, LocalFileSystem):
            con.register_filesystem(fs)
        table = _read_batch(con, fs, files, [_duckdb_path(fs, file["path"]) for file in files])
    index = table["file_index"]
    table = (table.drop_columns(["file_index"])
             .append_column("file_name", per_file_column(index, [f["file_name"] for f in files], pa.string()))
             .append_column("file_version", per_file_column(index, [f["file_version"] for f in files], pa.int64()))
             .append_column("_dlt_load_id", per_file_column(index, [load_id] * len(files), pa.string())))
    return table.cast(_arrow_schema(table.schema))


def _read_batch(con: duckdb.DuckDBPyConnection, fs: fsspec.AbstractFileSystem, files: list[dict],
                paths: list[str]) -> pa.Table:
    """The rows of every file of a batch, each tagged with its ``file_index`` in ``files``.

    A Parquet file no reader can open does not stop the load: it leaves one error row (and its
    rewrite, the file's next version, loads its events).
    """
    parts = []
    jsonl = [index for index, file in enumerate(files) if file["file_format"] == "jsonl"]
    if jsonl:
        contents = []
        for index in jsonl:
            with fs.open(files[index]["path"], "rb") as handle:
                contents.append(handle.read())
        parts.append(_reindexed(read_jsonl_files(con, contents), jsonl))
    parquet = [index for index, file in enumerate(files) if file["file_format"] == "parquet"]
    try:
        parts.append(_reindexed(read_parquet_files(con, [paths[i] for i in parquet]), parquet) if parquet else None)
    except duckdb.Error:
        for index in parquet:
            try:
                parts.append(_reindexed(read_parquet_files(con, [paths[index]]), [index]))
            except duckdb.Error as error:
                parts.append(unreadable_file_rows(error, index))
    return pa.concat_tables([part for part in parts if part is not None], promote_options="default")


def _duckdb_path(fs: fsspec.AbstractFileSystem, path: str) -> str:
    """How DuckDB names a file: a local path as is, another filesystem's through its protocol
    (the filesystem is registered with the connection)."""
    if isinstance(fs, LocalFileSystem):
        return path
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return f"{protocol}://{path}"


def _reindexed(table: pa.Table, positions: list[int]) -> pa.Table:
    """Map a reader's file index (position in the list it was given) to the batch position."""
    position = table.schema.get_field_index("file_index")
    return table.set_column(position, "file_index", pc.take(pa.array(positions, pa.int32()), table["file_index"]))


def _arrow_schema(schema: pa.Schema) -> pa.Schema:
    """The table's schema with the nullability the column hints declare, so dlt merges the two
    without a warning per file."""
    return pa.schema([
        field.with_nullable(EVENT_COLUMN_HINTS.get(field.name, {}).get("nullable", True))
        for field in schema])


def _chunks(items: list, size: int) -> list[list]:
    return [items[start:start + size] for start in range(0, len(items), size)]


def _parquet_model(files: list[dict], load_id: str, path: str) -> tuple[tuple | None, list[dict]]:
    """Write the SQL model that loads ``files`` in the warehouse: ``(path, rows, column hints)``,
    and the files that cannot go that way. Their footers are read here, so a file that is not
    Parquet, or is truncated, is found now and read by the Arrow path, where it leaves its error
    row instead of failing the load."""
    unreadable: list[dict] = []
    with duckdb.connect() as con:
        try:
            types = parquet_columns(con, [file["path"] for file in files])
        except duckdb.Error:
            readable = []
            for file in files:
                (readable if _has_readable_footer(con, file["path"]) else unreadable).append(file)
            files = readable
            types = parquet_columns(con, [file["path"] for file in files]) if files else {}
        if not files:
            return None, unreadable
        rows = parquet_row_count(con, [file["path"] for file in files])
    query = parquet_load_query([(file["path"], file["file_name"], file["file_version"]) for file in files],
                               types, load_id)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(str(SqlModel.from_query_string(query, dialect="duckdb")))
    # Columns beyond the event fields evolve into the table as text, as from the Arrow path.
    columns = {**EVENT_COLUMN_HINTS, **{name: {"data_type": "text", "nullable": True} for name in extra_columns(types)}}
    return (path, rows, columns), unreadable


def _warehouse_is_duckdb() -> bool:
    """Whether the running pipeline loads into DuckDB, whose SQL model reads local Parquet."""
    return dlt.current.pipeline().destination.destination_name == "duckdb"


def _has_readable_footer(con: duckdb.DuckDBPyConnection, path: str) -> bool:
    try:
        parquet_columns(con, [path])
        return True
    except duckdb.Error:
        return False


def _write_load_files(fs: fsspec.AbstractFileSystem, files: list[dict], load_id: str, directory: str) -> list:
    """Read ``files`` batch by batch into Arrow, the next batch read while the current one is
    written, into Parquet load files (one, unless a batch brings a new column)."""
    batches = _batches(files)
    writer = LoadFileWriter(directory, "usage_events")
    with ThreadPoolExecutor(max_workers=1) as reader:
        pending = reader.submit(_read_tagged_batch, fs, batches[0], load_id)
        for position in range(len(batches)):
            table = pending.result()
            if position + 1 < len(batches):
                pending = reader.submit(_read_tagged_batch, fs, batches[position + 1], load_id)
            writer.write(table)
    return writer.close()


class UsageFileChanged(RuntimeError):
    """A file changed between listing and reading; the next run loads its final content."""


def _delivered_by(name: str, delivered_through: date | None) -> bool:
    """Whether a file belongs to the deliveries through a day: its delivery folder is not later.
    A file outside the folder layout has no delivery day and is always taken."""
    if delivered_through is None:
        return True
    delivered = DELIVERY_FOLDER.match(name)
    return delivered is None or delivered.group(1) <= delivered_through.isoformat()


def _capped_watermark(complete_through: str, delivered_through: date | None) -> str:
    """What a source's watermark can claim when only deliveries through a day are loaded: no
    later than that day's start (its events may still arrive with the next day's delivery).
    Backfilling an old day must not make a billing period final on usage not loaded yet."""
    if delivered_through is None:
        return complete_through
    stated = datetime.fromisoformat(complete_through.replace("Z", "+00:00"))
    if stated.tzinfo is None:
        stated = stated.replace(tzinfo=timezone.utc)
    cap = datetime.combine(delivered_through, time(0), tzinfo=timezone.utc)
    return complete_through if stated <= cap else cap.isoformat().replace("+00:00", "Z")


@dlt.source(name="usage", schema_contract=USAGE_CONTRACT)
def usage_source(root: str, delivered_through: date | None = None) -> Iterator:
    """``root``: folder or fsspec URL holding one folder per usage source.

    ``delivered_through``: load only the deliveries up to this day (the end of a daily partition
    or backfill range); later delivery folders wait for their own run. Every new or rewritten
    file up to that day is loaded, so a file dropped late into an older folder is never missed.
    """
    fs, base = fsspec.core.url_to_fs(root)
    base = base.rstrip("/")

    def relative(path: str) -> str:
        return path[len(base):].lstrip("/")

    @dlt.resource(name="usage_files", write_disposition="merge", primary_key="file_name")
    def usage_files() -> Iterator[list[dict]]:
        """One row per new file version, all of a run's in one page for the events reader."""
        known: dict = dlt.current.resource_state().setdefault("files", {})
        new_versions: list[dict] = []
        for path, info in sorted(fs.find(base, detail=True).items()):
            name = relative(path)
            kind = file_format(path)
            if kind is None or not _delivered_by(name, delivered_through):
                continue
            fingerprint = _fingerprint(info)
            previous = known.get(name)
            if previous and fingerprint is not None and previous["fingerprint"] == fingerprint:
                continue
            with fs.open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
            if previous and previous["sha256"] == digest:
                previous["fingerprint"] = fingerprint
                continue
            version = previous["version"] + 1 if previous else 1
            known[name] = {"fingerprint": fingerprint, "sha256": digest, "version": version}
            delivered = DELIVERY_FOLDER.match(name)
            new_versions.append({"file_name": name, "file_version": version, "file_format": kind,
                                 "size_bytes": info.get("size"), "sha256": digest, "fingerprint": fingerprint,
                                 "delivered_on": delivered.group(1) if delivered else None})
        if new_versions:
            yield new_versions

    @dlt.transformer(name="usage_events", data_from=usage_files, write_disposition="append",
                     columns=EVENT_COLUMN_HINTS)
    def usage_events(files: list[dict]) -> Iterator:
        """The events of the new file versions, handed to dlt as files it imports.

        Parquet files the warehouse can read itself (a local folder) go as a SQL model: the load
        runs one ``INSERT ... SELECT`` over ``read_parquet`` of the files, so the events are
        decoded once, by the warehouse, and never rewritten. The others (JSON Lines, whose lines
        are parsed one by one so that a broken line is kept, and files on another filesystem)
        are read batch by batch into Arrow tables, the next batch read while the current one is
        written, into one Parquet load file (``LoadFileWriter``).
        """
        load_id = dlt.current.load_package_state()["load_id"]
        # Where each file is, for the readers: derived here rather than stored in usage_files,
        # where it would only record this machine's folder layout.
        files = [{**file, "path": f"{base}/{file['file_name']}"} for file in files]
        # Beside the load package, so dlt imports the files by hard link, not by copy. Emptied
        # first: a killed run may have left its files there.
        directory = os.path.join(dlt.current.pipeline().working_dir, "usage_load_files")
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        if not _warehouse_is_duckdb():
            # Another warehouse (PostgreSQL, Snowflake, ...) cannot read these files itself:
            # the Arrow tables go to dlt, which writes the destination's own load format.
            for batch in _batches(files):
                yield _read_tagged_batch(fs, batch, load_id)
            _check_unchanged(fs, base, files)  # a file changed meanwhile fails the load, unloaded
            return
        in_warehouse, read_here = [], []
        for file in files:
            local_parquet = file["file_format"] == "parquet" and isinstance(fs, LocalFileSystem)
            (in_warehouse if local_parquet else read_here).append(file)
        models = []
        for number, chunk in enumerate(_chunks(in_warehouse, MODEL_FILES)):
            model, unreadable = _parquet_model(chunk, load_id, os.path.join(directory, f"usage_events.{number}.model"))
            models += [model] if model else []
            read_here += unreadable
        load_files = _write_load_files(fs, read_here, load_id, directory) if read_here else []
        _check_unchanged(fs, base, files)
        for path, rows, columns in models:
            yield dlt.mark.with_file_import(path, "model", rows, hints=dlt.mark.make_hints(columns=columns))
        for load_file in load_files:
            yield dlt.mark.with_file_import(load_file.path, "parquet", load_file.rows,
                                            hints=load_file.schema.empty_table())
        shutil.rmtree(directory, ignore_errors=True)

    @dlt.resource(name="usage_watermarks", write_disposition="merge", primary_key="source",
                  columns={"source": {"data_type": "text", "nullable": False},
                           "complete_through": {"data_type": "timestamp", "nullable": False},
                           "file_name": {"data_type": "text"}})
    def usage_watermarks() -> Iterator[dict]:
        """Each source's own statement that its usage is complete through a time."""
        for path in sorted(fs.glob(f"{base}/*/{WATERMARK_FILE}")):
            with fs.open(path, "r") as handle:
                mark = json.load(handle)
            if not mark.get("source") or not mark.get("complete_through"):
                raise ValueError(f"watermark {relative(path)} needs 'source' and 'complete_through'")
            try:
                complete_through = _capped_watermark(str(mark["complete_through"]), delivered_through)
            except ValueError:
                raise ValueError(f"watermark {relative(path)}: complete_through {mark['complete_through']!r} "
                                 "is not an ISO 8601 time") from None
            yield {"source": mark["source"], "complete_through": complete_through, "file_name": relative(path)}

    return usage_files, usage_events, usage_watermarks
