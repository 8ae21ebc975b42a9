"""The incremental usage path gives the same marts as a full refresh.

A copy of the test pipeline's warehouse (fully built) receives a second delivery through the
project's own usage ingestion: a new day's file with new events, exact and conflicting copies
of events already counted, and a rewritten version of an old file (one row gone, one quantity
changed). dbt then builds incrementally; the marts and the classified events are compared row
for row with a `--full-refresh` build of the same warehouse.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.dbt_runs import run_dbt

COMPARED = ("intermediate.int_usage_events_classified", "intermediate.int_usage_daily",
            "intermediate.int_usage_daily_property_values", "marts.fct_usage_records", "marts.fct_invoice_lines",
            "marts.fct_usage_lineage", "marts.fct_quarantined_usage_events", "marts.fct_usage_monthly",
            "marts.fct_revenue_schedule", "marts.fct_journal_entry_lines")


# Which run wrote a row, not what it holds.
BOOKKEEPING = {"classified_at"}


def _dbt(args: list[str], warehouse: Path, target: Path) -> None:
    completed = run_dbt(args, warehouse, target)
    assert completed.success, completed.output[-4000:]


def _snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    """Every row of the compared tables, minus bookkeeping of which run wrote it."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        snapshot = {}
        for table in COMPARED:
            schema, name = table.split(".")
            columns = [column for (column,) in connection.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "order by ordinal_position", [schema, name]).fetchall()]
            listed = ", ".join(f'"{column}"' for column in columns if column not in BOOKKEEPING)
            snapshot[table] = connection.execute(f"select {listed} from {table} order by all").fetchall()
    return snapshot


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write(path: Path, events: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(event) + "\n" for event in events))


def _second_delivery(usage_root: Path) -> dict[str, int]:
    """New, duplicated and conflicting events in a new day's file, and one old file rewritten."""
    old_files = sorted(usage_root.glob("*/*/events-*.jsonl"))
    assert len(old_files) > 3, "the demo data has JSON Lines files to copy from"
    source_dir = old_files[0].parent.parent
    donor = [event for event in _events(old_files[1]) if event.get("event_id")][:12]
    new_events = [{**event, "event_id": f"second-delivery-{n}"} for n, event in enumerate(donor[:6])]
    exact_copies = donor[6:9]
    conflicts = [{**event, "quantity": "987654"} for event in donor[9:11]]
    _write(source_dir / "2026-10-20" / "events-1.jsonl", new_events + exact_copies + conflicts)

    rewritten = old_files[2]
    rows = _events(rewritten)
    changed = next(i for i, event in enumerate(rows) if event.get("event_id") and event.get("quantity") not in (None, ""))
    rows[changed] = {**rows[changed], "quantity": "4242"}
    _write(rewritten, rows[:-1])
    return {"new": len(new_events), "copies": len(exact_copies), "conflicts": len(conflicts)}


@pytest.fixture(scope="module")
def incremental_then_full(pipeline_run, tmp_path_factory):
    from ingestion.pipelines import raw_pipeline
    from ingestion.usage import usage_source

    workdir = tmp_path_factory.mktemp("incremental")
    warehouse = workdir / "meterledger.duckdb"
    shutil.copy(pipeline_run.warehouse, warehouse)
    shutil.copytree(pipeline_run.warehouse.parent / "dlt_pipelines", workdir / "dlt_pipelines")
    usage_root = workdir / "usage"
    shutil.copytree(pipeline_run.data_dir / "usage", usage_root)
    delivered = _second_delivery(usage_root)

    pipeline = raw_pipeline("usage", warehouse, pipelines_dir=workdir / "dlt_pipelines")
    pipeline.run(usage_source(root=str(usage_root)))

    # Models only: the pipeline run built and tested the same project (its tests, unit tests
    # included, would double this fixture's time without testing anything new).
    _dbt(["run", "--select", "int_usage_events_classified+"], warehouse, workdir / "target-incremental")
    incremental = _snapshot(warehouse)
    run_sql = (workdir / "target-incremental" / "run" / "meterledger" / "models" / "intermediate" / "usage"
               / "int_usage_events_classified.sql").read_text()
    _dbt(["run", "--full-refresh", "--select", "int_usage_events_classified+"], warehouse, workdir / "target-full")
    full = _snapshot(warehouse)
    return incremental, full, run_sql, delivered


def test_the_second_delivery_was_classified_incrementally(incremental_then_full):
    incremental, _, run_sql, delivered = incremental_then_full
    # dbt's delete+insert merge ran: the run replaced rows by key instead of rebuilding the table.
    assert "delete from" in run_sql.lower() and "__dbt_tmp" in run_sql
    rows = incremental["intermediate.int_usage_events_classified"]
    keys = [row[0] for row in rows]
    new_file = [row for row in rows if "2026-10-20" in row[0]]
    assert len(new_file) == delivered["new"] + delivered["copies"] + delivered["conflicts"]
    assert len(keys) == len(set(keys))


def test_incremental_and_full_refresh_give_identical_marts(incremental_then_full):
    incremental, full, _, _ = incremental_then_full
    for table in COMPARED:
        assert len(full[table]) > 0, table
        assert incremental[table] == full[table], f"{table} differs between the incremental and the full build"


def test_the_rewritten_file_replaced_its_old_rows(incremental_then_full):
    incremental, full, _, _ = incremental_then_full
    with_quantity = [row for row in full["intermediate.int_usage_events_classified"] if row[4] == "4242"]
    assert len(with_quantity) == 1
    assert incremental["intermediate.int_usage_events_classified"].count(with_quantity[0]) == 1
