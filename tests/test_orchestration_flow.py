"""The daily operation end to end, on the session's pipeline run (tests/conftest.py): the
backfill of every delivery day but the last as one run, the last day, the period-close sensor
and its NetSuite postings, NetSuite's bill runs (the emulator), the next day's read-back and the
reconciliation; then what a tampered invoice does to it."""
from __future__ import annotations

import copy
import shutil
from decimal import Decimal

import duckdb
import pytest

from tests.dbt_runs import WAREHOUSE_NAME, run_dbt


def _query(run, sql, params=None):
    with duckdb.connect(str(run.warehouse), read_only=True) as connection:
        return connection.execute(sql, params or []).fetchall()


def test_backfill_then_one_more_day_gives_the_marts_of_a_single_full_build(pipeline_run, tmp_path):
    assert pipeline_run.flow.first_day < pipeline_run.flow.last_day
    full = tmp_path / WAREHOUSE_NAME
    shutil.copy(pipeline_run.warehouse, full)
    built = run_dbt(["build", "--full-refresh", "--exclude-resource-type", "unit_test"], full, tmp_path / "target")
    assert built.success, built.output
    with duckdb.connect(str(full)) as connection:
        connection.execute(f"attach '{pipeline_run.warehouse}' as partitioned (read_only)")
        tables = connection.execute("""
            select table_schema, table_name from information_schema.tables
            where table_catalog = 'partitioned' and table_type = 'BASE TABLE'
                and table_schema in ('staging', 'intermediate', 'marts', 'reverse_etl_sync')
            order by 1, 2""").fetchall()
        assert ("marts", "fct_usage_records") in tables and ("intermediate", "int_usage_events_classified") in tables
        for schema, table in tables:
            # The run stamp of the classification says which run wrote a row, not what it holds.
            columns = ", ".join(f'"{name}"' for (name,) in connection.execute(
                "select column_name from information_schema.columns where table_catalog = 'partitioned' "
                "and table_schema = ? and table_name = ? and column_name <> 'classified_at' "
                "order by ordinal_position", [schema, table]).fetchall())
            for left, right in (("partitioned", WAREHOUSE_NAME.split(".")[0]), (WAREHOUSE_NAME.split(".")[0], "partitioned")):
                [(extra,)] = connection.execute(
                    f'select count(*) from (select {columns} from {left}."{schema}"."{table}" '
                    f'except all select {columns} from {right}."{schema}"."{table}")').fetchall()
                assert extra == 0, f"{schema}.{table}: {extra} rows in {left} not in {right}"


def test_the_sensor_posted_every_closed_billing_period_once_and_no_other(pipeline_run):
    from meterledger.pipeline import close_periods, load_cursor

    closed = {period for (period,) in _query(
        pipeline_run, "select billing_period from marts.rpt_billing_period_close where is_closed")}
    not_closed = {period for (period,) in _query(
        pipeline_run, "select billing_period from marts.rpt_billing_period_close where not is_closed")}
    assert closed and not_closed
    assert len(pipeline_run.flow.closed.run_ids) == 1
    assert set(pipeline_run.flow.closed.periods) == closed
    assert not set(pipeline_run.flow.closed.periods) & not_closed
    again = close_periods(load_cursor(pipeline_run.sensor_cursor))
    assert again.run_ids == [] and "no billing period closed" in again.skip_reason
    # Every usage record NetSuite holds from meterledger is final (or a late-usage adjustment).
    statuses = _query(pipeline_run, """
        select records.usage_status, count(*) from reverse_etl.sync_ledger as ledger
        join marts.fct_usage_records as records using (external_id)
        where ledger.destination = 'netsuite' and ledger.object_name = 'usage_records' and ledger.status = 'synced'
        group by 1""")
    assert statuses and {status for status, _ in statuses} <= {"final", "adjustment"}


def test_netsuite_invoiced_the_posted_records_and_the_next_run_read_them_back(pipeline_run):
    assert pipeline_run.flow.invoices > 0
    [(invoices,)] = _query(pipeline_run, "select count(*) from raw_netsuite.invoice")
    assert invoices == pipeline_run.flow.invoices
    [(synced, read_back)] = _query(pipeline_run, """
        select count(*), count(usage_records.usage_record_id)
        from reverse_etl.sync_ledger as ledger
        left join staging.stg_netsuite__usage_records as usage_records
            on usage_records.usage_record_key = ledger.external_id
        where ledger.destination = 'netsuite' and ledger.object_name = 'usage_records' and ledger.status = 'synced'""")
    assert synced > 0 and read_back == synced


def test_reconciliation_is_green_on_the_demo_data(pipeline_run):
    rows = dict(_query(pipeline_run, "select reconciliation_status, count(*) from marts.rpt_billing_reconciliation "
                                     "group by 1"))
    [(breaks,)] = _query(pipeline_run, "select count(*) from marts.rpt_billing_reconciliation where is_break")
    assert breaks == 0, rows
    # Every line and period whose records NetSuite has all invoiced matches, quantity for
    # quantity (amounts NetSuite's own price plans rate differently are reported, not breaks).
    invoiced = dict(_query(pipeline_run, """
        select reconciliation_status, count(*) from marts.rpt_billing_reconciliation
        where records_sent > 0 and records_invoiced = records_sent group by 1"""))
    assert invoiced.get("matched", 0) > 0
    assert set(invoiced) <= {"matched", "amount_differs"}, invoiced
    [(mismatched,)] = _query(pipeline_run, """
        select count(*) from marts.rpt_billing_reconciliation
        where records_sent > 0 and records_invoiced = records_sent
            and not (quantity_sent = quantity_in_netsuite and quantity_in_netsuite = quantity_invoiced)""")
    assert mismatched == 0
    # Rows still waiting say what for: an adjustment NetSuite bills with a later period.
    waiting = _query(pipeline_run, """
        select status_reason from marts.rpt_billing_reconciliation
        where reconciliation_status = 'pending' and invoice_count > 0""")
    assert all(reason.startswith("usage records not invoiced by NetSuite yet") for (reason,) in waiting), waiting


def _invoice_billing(netsuite_app, usage_record_id: str) -> dict:
    for invoice in netsuite_app.store.all("invoice"):
        for line in invoice["item"]["items"]:
            if any(usage["id"] == usage_record_id for usage in line.get("usage", [])):
                return invoice
    raise AssertionError(f"no invoice bills usage record {usage_record_id}")


def test_a_tampered_invoice_turns_exactly_its_row_red_and_blocks_the_next_syncs(pipeline_run):
    from meterledger.pipeline import run_daily_build, run_period_close
    from meterledger.publish import current_release

    [(line_key, period_start, usage_record_id)] = _query(pipeline_run, """
        select records.line_key, records.period_start, usage_records.usage_record_id
        from marts.rpt_billing_reconciliation as reconciliation
        join marts.fct_usage_records as records
            on records.line_key = reconciliation.line_key and records.meter_id = reconciliation.meter_id
            and records.period_start = reconciliation.period_start and records.usage_status = 'final'
        join staging.stg_netsuite__usage_records as usage_records on usage_records.usage_record_key = records.external_id
        where reconciliation.reconciliation_status = 'matched'
        order by records.external_id limit 1""")
    netsuite = pipeline_run.stack.netsuite
    original = _invoice_billing(netsuite, str(usage_record_id))
    tampered = copy.deepcopy(original)
    for line in tampered["item"]["items"]:
        if any(usage["id"] == str(usage_record_id) for usage in line.get("usage", [])):
            line["quantity"] = Decimal(line["quantity"]) + 1  # someone edited the billed quantity
    netsuite.store.replace("invoice", tampered)
    runs_before = _query(pipeline_run, "select destination, object_name, count(*) from reverse_etl.sync_runs "
                                       "group by 1, 2 order by 1, 2")
    published = pipeline_run.warehouse.parent / "published"
    publication_before = current_release(published)
    try:
        with pytest.raises(RuntimeError, match="reconciliation_within_tolerance"):
            run_daily_build()  # the next daily build reads NetSuite back
        red = _query(pipeline_run, "select line_key, period_start, reconciliation_status "
                                   "from marts.rpt_billing_reconciliation where is_break")
        assert red == [(line_key, period_start, "invoice_mismatch")]
        with pytest.raises(RuntimeError, match="reconciliation_within_tolerance"):
            run_period_close()
        # Neither the daily run's Salesforce syncs nor the close's NetSuite postings ran, and
        # finance's published copy is still the last good run's.
        assert _query(pipeline_run, "select destination, object_name, count(*) from reverse_etl.sync_runs "
                                    "group by 1, 2 order by 1, 2") == runs_before
        assert publication_before is not None and current_release(published) == publication_before
    finally:
        # NetSuite as it was, for the tests after this one (their runs read it back).
        netsuite.store.replace("invoice", copy.deepcopy(original))
