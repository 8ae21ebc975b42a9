"""The published copy of the public marts, for readers that must never hold the warehouse's lock.

DuckDB allows one writing process per file, and the daily run writes for minutes; a BI tool that
opened the warehouse would block the run or be blocked by it. After each successful daily build
the public marts (dbt `access: public`) are copied to Parquet files that any reader opens
(Evidence, a notebook, DuckDB, Spark), with a manifest of what each holds.

Layout under the published folder:

    releases/<UTC time>-<run>/<mart>.parquet   one folder per publication, written whole first
    releases/<UTC time>-<run>/_publication.json
    current -> releases/<...>                 switched atomically (a symlink renamed over the old)

A reader that opened `current/` keeps reading a complete release even while the next one is
switched in; the last few releases are kept so such a reader is not cut off mid-read.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

CURRENT = "current"
RELEASES = "releases"
MANIFEST = "_publication.json"
# The same facts as a table, for readers that query rather than parse JSON (the BI pages).
MANIFEST_TABLE = "_publication.parquet"
KEEP_RELEASES = 3


@dataclass(frozen=True)
class PublicMart:
    schema: str
    name: str

    @property
    def relation(self) -> str:
        return f'"{self.schema}"."{self.name}"'


@dataclass(frozen=True)
class Publication:
    folder: Path
    tables: dict[str, int]  # mart name -> rows


def public_marts(manifest_path: Path) -> list[PublicMart]:
    """The models dbt's manifest marks `access: public`, where they are built."""
    manifest = json.loads(Path(manifest_path).read_text())
    marts = [PublicMart(node["schema"], node.get("alias") or node["name"])
             for node in manifest["nodes"].values()
             if node["resource_type"] == "model" and node.get("access") == "public"]
    return sorted(marts, key=lambda mart: mart.name)


def publish_marts(warehouse: duckdb.DuckDBPyConnection, marts: list[PublicMart], root: Path,
                  run_id: str = "", keep: int = KEEP_RELEASES) -> Publication:
    """Writes every mart to a new release folder, then points `current` at it."""
    if not marts:
        raise ValueError("no public marts to publish: is any model `access: public` in the dbt project?")
    root = Path(root)
    published_at = datetime.now(timezone.utc)
    release = root / RELEASES / f"{published_at:%Y%m%dT%H%M%S%fZ}-{(run_id or 'manual')[:8]}"
    staging = release.with_name(release.name + ".partial")
    staging.mkdir(parents=True)
    tables: dict[str, dict] = {}
    try:
        for mart in marts:
            target = staging / f"{mart.name}.parquet"
            # Parquet keeps the DECIMAL amounts exact; one file per mart, written by DuckDB itself.
            warehouse.execute(f"copy (select * from {mart.relation}) to '{_sql_path(target)}' "
                              "(format parquet, compression zstd)")
            columns = warehouse.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [mart.schema, mart.name]).fetchall()
            rows = warehouse.execute(f"select count(*) from read_parquet('{_sql_path(target)}')").fetchone()[0]
            tables[mart.name] = {
                "relation": f"{mart.schema}.{mart.name}",
                "rows": rows,
                "columns": [{"name": name, "type": data_type} for name, data_type in columns],
                "sha256": _sha256(target),
            }
        (staging / MANIFEST).write_text(json.dumps({
            "published_at": published_at.isoformat(),
            "run_id": run_id,
            "tables": tables,
        }, indent=2) + "\n")
        _write_manifest_table(staging / MANIFEST_TABLE, tables, published_at, run_id)
        staging.rename(release)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _switch_current(root, release)
    _prune(root / RELEASES, keep)
    return Publication(release, {name: table["rows"] for name, table in tables.items()})


def current_release(root: Path) -> Path | None:
    """The release `current` points at, or None before the first publication."""
    link = Path(root) / CURRENT
    return link.resolve() if link.exists() else None


def read_manifest(root: Path) -> dict:
    release = current_release(root)
    if release is None:
        raise FileNotFoundError(f"nothing published in {root} yet: run the daily job (or `make demo`) first")
    return json.loads((release / MANIFEST).read_text())


def _write_manifest_table(path: Path, tables: dict[str, dict], published_at: datetime, run_id: str) -> None:
    with duckdb.connect() as scratch:
        scratch.execute("create table publication (table_name varchar, row_count bigint, "
                        "published_at timestamptz, run_id varchar)")
        scratch.executemany("insert into publication values (?, ?, ?, ?)",
                            [(name, table["rows"], published_at, run_id) for name, table in tables.items()])
        scratch.execute(f"copy publication to '{_sql_path(path)}' (format parquet)")


def _switch_current(root: Path, release: Path) -> None:
    # rename() over an existing symlink is atomic: a reader sees the old release or the new one.
    temporary = root / f".{CURRENT}.{os.getpid()}"
    if temporary.is_symlink():
        temporary.unlink()
    temporary.symlink_to(release.relative_to(root), target_is_directory=True)
    os.replace(temporary, root / CURRENT)


def _prune(releases: Path, keep: int) -> None:
    # Publications run one at a time (the warehouse pool), so a `.partial` folder left now is a
    # killed publication's: nobody reads it.
    folders = sorted(path for path in releases.iterdir() if path.is_dir())
    finished = [path for path in folders if not path.name.endswith(".partial")]
    for old in finished[:-keep] + [path for path in folders if path.name.endswith(".partial")]:
        shutil.rmtree(old, ignore_errors=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
