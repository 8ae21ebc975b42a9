"""The published copy: exact decimals, an atomic switch of `current`, old releases pruned, and a
failed publication that leaves the last good one in place."""
from __future__ import annotations

import json
from decimal import Decimal

import duckdb
import pytest

from meterledger.publish import PublicMart, current_release, publish_marts, read_manifest

MARTS = [PublicMart("marts", "fct_revenue_schedule"), PublicMart("marts", "fct_mrr")]


@pytest.fixture
def warehouse(tmp_path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    connection.execute("create schema marts")
    connection.execute("create table marts.fct_revenue_schedule as select 'K1:sub' as line_key, "
                       "cast('1234567890123.456789012' as decimal(38, 9)) as recognized")
    connection.execute("create table marts.fct_mrr as select 'C1' as customer_key, cast(100.10 as decimal(38, 9)) as mrr")
    yield connection
    connection.close()


def test_a_publication_copies_every_mart_exactly_and_says_what_it_holds(warehouse, tmp_path):
    root = tmp_path / "published"
    publication = publish_marts(warehouse, MARTS, root, run_id="0123456789abcdef")

    assert current_release(root) == publication.folder
    assert publication.folder.name.endswith("-01234567")
    [(recognized, data_type)] = duckdb.sql(
        f"select recognized, typeof(recognized) from read_parquet('{root / 'current' / 'fct_revenue_schedule.parquet'}')"
    ).fetchall()
    assert recognized == Decimal("1234567890123.456789012") and data_type == "DECIMAL(38,9)"
    manifest = read_manifest(root)
    assert manifest["run_id"] == "0123456789abcdef"
    assert manifest["tables"]["fct_revenue_schedule"]["rows"] == 1
    assert manifest["tables"]["fct_revenue_schedule"]["columns"] == [
        {"name": "line_key", "type": "VARCHAR"}, {"name": "recognized", "type": "DECIMAL(38,9)"}]
    assert duckdb.sql(f"select table_name, row_count from read_parquet('{root / 'current' / '_publication.parquet'}') "
                      "order by 1").fetchall() == [("fct_mrr", 1), ("fct_revenue_schedule", 1)]


def test_the_next_publication_replaces_current_and_old_releases_are_pruned(warehouse, tmp_path):
    root = tmp_path / "published"
    folders = [publish_marts(warehouse, MARTS, root, run_id=f"run{number}", keep=2).folder for number in range(3)]

    assert current_release(root) == folders[-1]
    assert sorted((root / "releases").iterdir()) == folders[1:]
    assert (root / "current").is_symlink() and not (root / "current").readlink().is_absolute()


def test_a_failed_publication_leaves_the_last_good_one_in_place(warehouse, tmp_path):
    root = tmp_path / "published"
    good = publish_marts(warehouse, MARTS, root, run_id="good")
    before = json.loads((good.folder / "_publication.json").read_text())

    with pytest.raises(duckdb.CatalogException, match="fct_missing"):
        publish_marts(warehouse, [*MARTS, PublicMart("marts", "fct_missing")], root, run_id="bad")

    assert current_release(root) == good.folder
    assert read_manifest(root) == before
    assert [path.name for path in (root / "releases").iterdir()] == [good.folder.name]  # no partial left


def test_reading_before_any_publication_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="make demo"):
        read_manifest(tmp_path / "published")
