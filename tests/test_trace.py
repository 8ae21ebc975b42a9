"""`meterledger trace` on the warehouse of a real pipeline run (the session's `pipeline_run`).

The events a trace names are checked against the delivered files themselves: the file and row it
gives must hold that very event ID and quantity.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from meterledger.cli import app
from meterledger.trace import open_warehouse, trace


def _query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql, params or []).fetchall()


def _trace(warehouse: Path, external_id: str) -> dict:
    with open_warehouse(warehouse) as opened:
        return trace(opened, external_id)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "meterledger", *args], capture_output=True, text=True, timeout=300)


@lru_cache(maxsize=None)
def _file_rows(path: Path) -> tuple[dict, ...]:
    """A delivered file's rows by row number - 1, as the loader numbers them (JSON Lines: line
    numbers, blank lines counted; Parquet: row positions)."""
    if path.suffix == ".jsonl":
        return tuple(json.loads(line) if line.strip() else {} for line in path.read_text().split("\n"))
    return tuple(pq.read_table(path).to_pylist())


def _row_in_file(data_dir: Path, file_name: str, file_row: int) -> dict:
    return _file_rows(data_dir / "usage" / file_name)[file_row - 1]


@pytest.fixture(scope="module")
def synced_sum_record(pipeline_run) -> str:
    """A usage record NetSuite holds, of a meter summing event quantities, on a line whose
    versions include no quantity (so its billable quantity is the events' sum)."""
    rows = _query(pipeline_run.warehouse, """
        select records.external_id
        from reverse_etl.sync_ledger as ledger
        inner join marts.fct_usage_records as records
            on ledger.external_id = records.external_id
        inner join reference.meters as meters
            on records.meter_id = meters.meter_id
        where ledger.object_name = 'usage_records'
            and ledger.status = 'synced'
            and records.adjustment_sequence = 0
            and records.event_count > 0
            and meters.aggregation = 'sum'
            and meters.property = 'quantity'
            and not exists (
                select 1 from intermediate.int_contract_line_versions as versions
                where versions.line_key = records.line_key and coalesce(versions.included_quantity, 0) <> 0)
        order by records.event_count desc, records.external_id
        limit 1""")
    assert rows, "the pipeline run synced no usage record of a sum meter without an included quantity"
    return rows[0][0]


def test_a_synced_usage_record_traces_to_exactly_its_events_and_their_file_rows(pipeline_run, synced_sum_record):
    external_id = synced_sum_record
    found = _trace(pipeline_run.warehouse, external_id)

    billed = {event_id for (event_id,) in _query(
        pipeline_run.warehouse, "select event_id from marts.fct_usage_lineage where usage_record_external_id = ?",
        [external_id])}
    traced = [event["event_id"] for event in found["events"]]
    assert len(traced) == len(set(traced)) == found["event_count"] == found["usage_record"]["event_count"]
    assert set(traced) == billed

    raw = dict(((file_name, file_row), event_id) for file_name, file_row, event_id in _query(
        pipeline_run.warehouse, """
        select file_name, file_row, event_id from raw_usage.usage_events as events
        where file_version = (select max(file_version) from raw_usage.usage_events as newest
                              where newest.file_name = events.file_name)""", []))
    file_quantities = []
    for event in found["events"]:
        assert raw[(event["file_name"], event["file_row"])] == event["event_id"]
        delivered = _row_in_file(pipeline_run.data_dir, event["file_name"], event["file_row"])
        assert delivered["event_id"] == event["event_id"]
        assert Decimal(str(delivered["quantity"])) == event["quantity"]
        file_quantities.append(Decimal(str(delivered["quantity"])))
    assert found["usage_record"]["quantity"] == sum(file_quantities)

    # The Salesforce usage summary of the line and period shares the external ID.
    [netsuite] = [row for row in found["sync"] if (row["destination"], row["object_name"]) ==
                  ("netsuite", "usage_records")]
    # Synced at the first try: NetSuite refused it no time (attempts count refusals).
    assert netsuite["status"] == "synced" and netsuite["remote_id"] and netsuite["attempts"] == 0

    result = CliRunner().invoke(app, ["trace", "--warehouse", str(pipeline_run.warehouse), "--all", external_id])
    assert result.exit_code == 0, result.output
    assert f"usage record {external_id}" in result.output
    assert all(event_id in result.output for event_id in billed)
    assert f"events: {len(billed)}" in result.output
    assert format(found["usage_record"]["quantity"].normalize(), "f") in result.output
    assert f"netsuite usage_records: synced, remote id {netsuite['remote_id']}" in result.output
    first = found["events"][0]
    assert f"{first['file_name']}:{first['file_row']}" in result.output


def test_the_text_report_truncates_long_event_lists_unless_all(pipeline_run):
    [(external_id,)] = _query(pipeline_run.warehouse, """
        select external_id from marts.fct_usage_records where event_count > 20
        order by event_count, external_id limit 1""")
    found = _trace(pipeline_run.warehouse, external_id)
    assert found["event_count"] > 20
    result = CliRunner().invoke(app, ["trace", "--warehouse", str(pipeline_run.warehouse), external_id])
    assert result.exit_code == 0, result.output
    assert f"... {found['event_count'] - 20} more (--all lists them)" in result.output


def test_json_keeps_decimals_exact_and_dates_iso(pipeline_run, synced_sum_record):
    result = CliRunner().invoke(app, ["trace", "--warehouse", str(pipeline_run.warehouse), "--json",
                                      synced_sum_record])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    found = _trace(pipeline_run.warehouse, synced_sum_record)
    assert document["kind"] == "usage_record"
    assert document["usage_record"]["amount"] == format(found["usage_record"]["amount"], "f")
    assert isinstance(document["usage_record"]["quantity"], str)
    assert Decimal(document["usage_record"]["quantity"]) == found["usage_record"]["quantity"]
    assert date.fromisoformat(document["usage_record"]["period_start"]) == found["usage_record"]["period_start"]
    assert [event["event_id"] for event in document["events"]] == [event["event_id"] for event in found["events"]]
    assert len(document["events"]) == found["event_count"]  # JSON is never truncated


def test_an_adjustment_names_its_original_period(pipeline_run):
    rows = _query(pipeline_run.warehouse, """
        select external_id, adjustment_sequence, original_period_start, original_period_end, period_start
        from marts.fct_usage_records
        where adjustment_sequence > 0 and event_count > 0
        order by external_id
        limit 1""")
    assert rows, "the small demo made no adjustment for late usage"
    external_id, sequence, original_start, original_end, booked_start = rows[0]
    assert external_id.endswith(f":adj{sequence}")

    found = _trace(pipeline_run.warehouse, external_id)
    assert found["usage_record"]["original_period_start"] == original_start
    assert found["events"] and all(event["delivery_cohort"] == sequence for event in found["events"])
    assert all(original_start <= event["event_at"].date() <= original_end for event in found["events"])

    result = CliRunner().invoke(app, ["trace", "--warehouse", str(pipeline_run.warehouse), external_id])
    assert result.exit_code == 0, result.output
    original = next(line for line in result.output.splitlines() if line.strip().startswith("original period"))
    assert f"{original_start}..{original_end}" in original and f"adjustment {sequence}" in original
    assert re.search(rf"billing period\s+{booked_start}\.\.", result.output)


def test_a_journal_entry_traces_to_its_lines_and_the_usage_it_recognizes(pipeline_run):
    rows = _query(pipeline_run.warehouse, """
        select lines.external_id, lines.line_key, lines.credit, entries.accounting_period
        from marts.fct_journal_entry_lines as lines
        inner join marts.fct_journal_entries as entries
            on lines.external_id = entries.external_id
        inner join reverse_etl.sync_ledger as ledger
            on ledger.external_id = entries.external_id and ledger.status = 'synced'
        where entries.entry_type = 'revenue_recognition'
            and lines.account_role = 'revenue_usage'
            and lines.credit > 0
        order by lines.credit desc, lines.external_id
        limit 1""")
    assert rows, "no synced revenue recognition entry recognizes usage"
    external_id, usage_line, credited, accounting_period = rows[0]
    found = _trace(pipeline_run.warehouse, external_id)

    expected_lines = _query(pipeline_run.warehouse, """
        select line_number, account_role, debit, credit, line_key from marts.fct_journal_entry_lines
        where external_id = ? order by line_number""", [external_id])
    assert [(line["line_number"], line["account_role"], line["debit"], line["credit"], line["line_key"])
            for line in found["lines"]] == expected_lines
    assert found["sync"][0]["status"] == "synced"

    month_start = date.fromisoformat(f"{accounting_period}-01")
    month_end = (month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    [behind] = [usage for usage in found["usage"] if usage["line_key"] == usage_line]
    assert behind["billing_periods"]
    # What the billing periods recognized in the month is the entry line's amount, to the cent.
    assert sum(period["recognized"] for period in behind["billing_periods"]) == credited

    records_with_events = 0
    for period in behind["billing_periods"]:
        assert period["period_start"] <= month_end and period["period_end"] >= month_start
        for record in period["usage_records"]:
            assert record["line_key"] == usage_line
            assert (record["original_period_start"], record["original_period_end"]) == \
                (period["period_start"], period["period_end"])
            billed = {event_id for (event_id,) in _query(
                pipeline_run.warehouse,
                "select event_id from marts.fct_usage_lineage where usage_record_external_id = ?",
                [record["external_id"]])}
            consumed = record["events_consumed_in_period"]
            assert {event["event_id"] for event in consumed} <= billed
            assert all(month_start <= event["event_at"].date() <= month_end for event in consumed)
            records_with_events += bool(consumed)
    assert records_with_events >= 1

    result = CliRunner().invoke(app, ["trace", "--warehouse", str(pipeline_run.warehouse), external_id])
    assert result.exit_code == 0, result.output
    assert f"journal entry {external_id}" in result.output
    record = next(record for period in behind["billing_periods"] for record in period["usage_records"]
                  if record["events_consumed_in_period"])
    assert f"usage record {record['external_id']}" in result.output
    assert record["events_consumed_in_period"][0]["event_id"] in result.output


def test_an_unknown_id_is_exit_code_1_naming_it_and_the_kinds_of_ids(pipeline_run):
    result = _cli("trace", "--warehouse", str(pipeline_run.warehouse), "K9999-api:api_calls:2026-01-01")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("meterledger: error: unknown external ID "
                                                   "'K9999-api:api_calls:2026-01-01'")
    assert "<line key>:<meter>:<period start>" in lines[0] and "je:<contract>:<entry type>:<YYYY-MM>" in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""

    unknown_entry = _cli("trace", "--warehouse", str(pipeline_run.warehouse), "je:K9999:revenue_recognition:2026-08")
    assert unknown_entry.returncode == 1 and "unknown external ID 'je:K9999" in unknown_entry.stderr


def test_a_warehouse_locked_by_a_writer_is_read_from_a_copy(pipeline_run, synced_sum_record, tmp_path):
    warehouse = tmp_path / "meterledger.duckdb"
    shutil.copyfile(pipeline_run.warehouse, warehouse)
    writer = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys\n"
                               f"connection = duckdb.connect({str(warehouse)!r})\n"
                               "connection.execute('create table scratch as select 1 as x')\n"
                               "print('holding', flush=True)\n"
                               "sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "holding"
        with pytest.raises(duckdb.IOException):
            duckdb.connect(str(warehouse), read_only=True)
        result = _cli("trace", "--warehouse", str(warehouse), "--json", synced_sum_record)
    finally:
        writer.communicate("", timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"warehouse {warehouse} is locked by a writer; reading a copy" in result.stderr
    document = json.loads(result.stdout)
    assert document["read_from_copy"] is True
    assert document["usage_record"]["external_id"] == synced_sum_record
    assert len(document["events"]) == document["event_count"] > 0
