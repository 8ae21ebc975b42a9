"""dlt source over usage event files in a folder (local by default, any fsspec URL).

Layout: ``<root>/<source>/<YYYY-MM-DD>/events-*.{jsonl,parquet}`` plus ``<root>/<source>/_watermark.json``.

Incremental by file. ``usage_files`` lists the files and keeps, in dlt state, each file's size and
modification time (cheap to compare) and the SHA-256 of its content. A file whose size or time
changed is hashed: same content means it was only touched; other content is a rewrite, loaded
again as the file's next version. ``usage_events`` reads each new file version into Arrow and
tags every row with its file, version and row number; staging reads the newest version of each
file, so a rewrite replaces the rows of the version before it, which stay in raw for the audit.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import dlt
import duckdb
import fsspec
import pyarrow as pa
import pyarrow.compute as pc
from fsspec.implementations.local import LocalFileSystem

from ingestion.usage.files import (
    EVENT_COLUMNS,
    file_format,
    per_file_column,
    read_jsonl_files,
    read_parquet_files,
    LoadFileWriter,
    unreadable_file_rows,
)

DELIVERY_FOLDER = re.compile(r"^[^/]+/(\d{4}-\d{2}-\d{2})/[^/]+$")
WATERMARK_FILE = "_watermark.json"
# A batch of files becomes one Arrow table: big enough that per-table costs vanish, small
# enough that two in memory (one read while the other is written) stay far below the target.
BATCH_BYTES = 16 * 1024 * 1024
BATCH_FILES = 500

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


class UsageFileChanged(RuntimeError):
    """A file changed between listing and reading; the next run loads its final content."""


@dlt.source(name="usage", schema_contract=USAGE_CONTRACT)
def usage_source(root: str) -> Iterator:
    """``root``: folder or fsspec URL holding one folder per usage source."""
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
            if kind is None:
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
        """The events of the new file versions, read batch by batch into Arrow tables and handed
        to dlt as one Parquet file.

        dlt's cost is per table and per load file, not per row. While one batch is written,
        the next is read (two cores busy); the file is written by ``LoadFileWriter`` (settings
        tuned for a load) and imported into the load package as is, dlt taking its schema from
        the Arrow schema. One file means one INSERT in the load, cheaper than one per batch.
        """
        load_id = dlt.current.load_package_state()["load_id"]
        # Where each file is, for the readers: derived here rather than stored in usage_files,
        # where it would only record this machine's folder layout.
        files = [{**file, "path": f"{base}/{file['file_name']}"} for file in files]
        batches = _batches(files)
        # Beside the load package, so dlt imports the files by hard link, not by copy. Emptied
        # first: a killed run may have left its files there.
        directory = os.path.join(dlt.current.pipeline().working_dir, "usage_load_files")
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        with ThreadPoolExecutor(max_workers=1) as reader:
            writer = LoadFileWriter(directory, "usage_events")
            pending = reader.submit(_read_tagged_batch, fs, batches[0], load_id)
            for position in range(len(batches)):
                table = pending.result()
                if position + 1 < len(batches):
                    pending = reader.submit(_read_tagged_batch, fs, batches[position + 1], load_id)
                writer.write(table)
        _check_unchanged(fs, base, files)
        for load_file in writer.close():
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
            yield {"source": mark["source"], "complete_through": mark["complete_through"],
                   "file_name": relative(path)}

    return usage_files, usage_events, usage_watermarks
