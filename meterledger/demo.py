"""`meterledger demo`: the whole flow on the embedded default, and a summary a newcomer can read."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from meterledger.pipeline import FlowOutcome, backfill_close_and_read_back, pipeline_environment
from meterledger.sync_command import reason_kinds

REASONS = ("malformed_record", "missing_event_id", "conflicting_duplicate", "unparseable_timestamp",
           "missing_quantity", "non_numeric_quantity", "negative_quantity", "non_numeric_amount",
           "unknown_customer", "unknown_meter", "no_billable_line")


@dataclass(frozen=True)
class DemoOptions:
    data_dir: Path
    warehouse: Path
    customers: int = 200
    events: int = 1_000_000
    days: int = 90
    seed: int = 42
    debug: bool = False


def _ensure_demo_data(options: DemoOptions) -> tuple[dict, bool]:
    """The demo data, generated unless the folder already holds the same request."""
    from emulators.demo_data.generator import generate

    wanted = {"seed": options.seed, "customers": options.customers, "events": options.events, "days": options.days}
    manifest_path = options.data_dir / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if all(manifest.get("args", {}).get(key) == value for key, value in wanted.items()):
            return manifest, False
    return generate(options.data_dir, **wanted), True


def run_demo(options: DemoOptions) -> str:
    from emulators.runner import EmulatorStack

    started = time.monotonic()
    data_dir, warehouse = options.data_dir.resolve(), options.warehouse.resolve()
    _say(f"demo data in {data_dir}")
    manifest, regenerated = _ensure_demo_data(options)
    state_dir = warehouse.parent / "emulators"
    if regenerated:
        # New demo data: the warehouse and the emulators' saved state describe the old one.
        shutil.rmtree(state_dir, ignore_errors=True)
        for stale in (warehouse, warehouse.parent / "dlt_pipelines"):
            if stale.is_dir():
                shutil.rmtree(stale)
            elif stale.exists():
                stale.unlink()
    log_path = warehouse.parent / "logs" / "demo-run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with EmulatorStack(state_dir=state_dir, seed_dir=data_dir) as stack:
        environment = pipeline_environment(stack.environment(), warehouse, data_dir / "usage")
        os.environ.update(environment)
        _say(f"emulators up (NetSuite {environment['NETSUITE_BASE_URL']}, "
             f"Salesforce {environment['SALESFORCE_LOGIN_URL']}); backfilling the delivery days, "
             f"closing billing periods, billing them in NetSuite and reading back; log in {log_path}")
        with _output_to(log_path, quiet=not options.debug):
            try:
                flow = backfill_close_and_read_back(
                    data_dir / "usage", warehouse, stack.netsuite, warehouse.parent / "period_close_sensor.cursor",
                    log_level="DEBUG" if options.debug else "INFO")
            except RuntimeError as error:
                raise RuntimeError(f"{error} (full log: {log_path})") from error
        readback = _read_back(stack)
    return _summary(manifest, warehouse, readback, flow, time.monotonic() - started)


def _say(message: str) -> None:
    print(f"meterledger demo: {message}", flush=True)


@contextlib.contextmanager
def _output_to(log_path: Path, quiet: bool):
    """Send dbt's and Dagster's console output to the run log, unless --debug asks to see it."""
    if not quiet:
        yield
        return
    import logging

    with open(log_path, "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        handler = logging.StreamHandler(log)
        dagster_logger = logging.getLogger("dagster")
        saved = dagster_logger.handlers[:], dagster_logger.propagate
        dagster_logger.handlers, dagster_logger.propagate = [handler], False
        try:
            yield
        finally:
            dagster_logger.handlers, dagster_logger.propagate = saved


def _read_back(stack) -> dict[str, int]:
    """What the destinations hold now, asked through their APIs like any client would."""
    from meterledger.connections.netsuite import netsuite_connection_from
    from meterledger.connections.salesforce import salesforce_connection_from

    netsuite = netsuite_connection_from(stack.environment())
    salesforce = salesforce_connection_from(stack.environment())
    return {
        "netsuite_usage": sum(1 for _ in netsuite.suiteql("SELECT id FROM usage")),
        "netsuite_journal_entries": sum(1 for _ in netsuite.suiteql(
            "SELECT id FROM transaction WHERE type = 'Journal'")),
        "netsuite_invoices": sum(1 for _ in netsuite.suiteql("SELECT id FROM transaction WHERE type = 'CustInvc'")),
        "salesforce_usage_summaries": sum(1 for _ in salesforce.query("SELECT Id FROM Usage_Summary__c")),
        "salesforce_credit_balances": sum(1 for _ in salesforce.query("SELECT Id FROM Credit_Balance__c")),
        "salesforce_accounts": sum(1 for _ in salesforce.query(
            "SELECT Id FROM Account WHERE Credit_Balance__c != null")),
        "salesforce_account_alerts": sum(1 for _ in salesforce.query(
            "SELECT Id FROM Account WHERE Usage_Alert_Level__c != null")),
    }


def _scalar(connection: duckdb.DuckDBPyConnection, sql: str) -> int:
    return connection.execute(sql).fetchone()[0]


def _summary(manifest: dict, warehouse: Path, readback: dict[str, int], flow: FlowOutcome, seconds: float) -> str:
    lines = [f"meterledger demo: {manifest.get('date_range', {}).get('start')} to "
             f"{manifest.get('date_range', {}).get('end')}, seed {manifest.get('args', {}).get('seed')}, "
             f"finished in {seconds:.0f} s", "",
             "Orchestration (Dagster jobs usage_delivery, daily_billing, period_close; runs in $DAGSTER_HOME)",
             f"  delivery days {flow.first_day} to {flow.last_day - timedelta(days=1)} backfilled as one run, "
             f"then {flow.last_day}, then the daily build",
             f"  period-close sensor: {len(flow.closed.run_ids)} run(s) posting {len(flow.closed.periods)} newly "
             f"closed billing period(s)" + (f" ({flow.closed.skip_reason})" if flow.closed.skip_reason else ""),
             f"  NetSuite bill runs (emulator): {flow.invoices:,} invoices; the next day's runs read them back", ""]
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        lines.append("Rows loaded per source (raw tables, loaded by dlt)")
        tables = connection.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('raw_usage', 'raw_salesforce', 'raw_netsuite') "
            "and table_name not like '\\_dlt%' escape '\\' order by 1, 2").fetchall()
        by_schema: dict[str, list[str]] = {}
        for schema, table in tables:
            count = _scalar(connection, f'select count(*) from "{schema}"."{table}"')
            by_schema.setdefault(schema, []).append(f"{table} {count:,}")
        for schema, parts in by_schema.items():
            lines.append(f"  {schema:<15} " + ", ".join(parts))

        dispositions = dict(connection.execute(
            "select disposition, count(*) from intermediate.int_usage_events_classified group by 1").fetchall())
        lines += ["", "Usage event rows in the files (intermediate.int_usage_events_classified)",
                  f"  {'valid':<24} {dispositions.get('valid', 0):>8,}",
                  f"  {'exact duplicate':<24} {dispositions.get('duplicate', 0):>8,}  (counted once)",
                  f"  {'quarantined':<24} {dispositions.get('quarantined', 0):>8,}"]
        lines += ["", "Usage events not billed, by reason (marts.fct_quarantined_usage_events)"]
        counts = dict(connection.execute(
            "select quarantine_reason, count(*) from marts.fct_quarantined_usage_events group by 1").fetchall())
        for reason in REASONS:
            lines.append(f"  {reason:<24} {counts.get(reason, 0):>8,}")
        late = _scalar(connection, "select count(*) from intermediate.int_usage_events_valid where is_late_arrival")
        lines.append(f"  {'late_arrival':<24} {late:>8,}  (valid, flagged as late)")
        beyond = _scalar(connection, "select count(*) from marts.fct_usage_events_beyond_dedup_window")
        lines.append(f"  {'beyond_dedup_window':<24} {beyond:>8,}  (valid, billed, listed in "
                     "marts.fct_usage_events_beyond_dedup_window)")

        terms = connection.execute(
            "select record_key, quarantine_message from marts.fct_quarantined_contract_terms order by 1").fetchall()
        lines += ["", f"Contract terms not billed (marts.fct_quarantined_contract_terms): {len(terms):,}"]
        lines += [f"  {key:<24} {message}" for key, message in terms[:5]]
        lines += ["", "Billing (marts.fct_usage_records, marts.fct_invoice_lines)"]
        statuses = dict(connection.execute(
            "select usage_status, count(*) from marts.fct_usage_records group by 1").fetchall())
        lines.append("  usage records            " + ", ".join(
            f"{statuses.get(status, 0):,} {status}" for status in ("final", "provisional", "adjustment")))
        gaps = connection.execute(
            "select count(*), count(distinct line_key), min(line_key || ' ' || meter_id || ' (' || property || ')') "
            "from marts.rpt_meter_property_gaps").fetchone()
        lines.append(f"  meter property carried by no event: {gaps[0]:,} line periods"
                     + (f" on {gaps[1]:,} lines, e.g. {gaps[2]} (marts.rpt_meter_property_gaps)" if gaps[0] else ""))
        by_kind: dict[str, list] = {}
        for kind, currency, count, total, minor_units in connection.execute("""
                select lines.invoice_line_kind, lines.currency_code, count(*), sum(lines.amount),
                    any_value(currencies.minor_units)
                from marts.fct_invoice_lines as lines
                join reference.currencies as currencies using (currency_code)
                group by 1, 2 order by 1, 2""").fetchall():
            entry = by_kind.setdefault(kind, [0, []])
            entry[0] += count
            entry[1].append(f"{currency} {total.quantize(Decimal(1).scaleb(-minor_units)):,}")
        for kind, (count, totals) in by_kind.items():
            lines.append(f"  {kind:<24} {count:>8,} lines: {', '.join(totals)}")

        lines += ["", "Revenue (marts.fct_revenue_schedule, marts.fct_journal_entries)"]
        for currency, recognized, deferred, minor_units in connection.execute("""
                select schedule.currency_code, sum(schedule.recognized),
                    sum(case when schedule.is_last then schedule.deferred_balance else 0 end),
                    any_value(currencies.minor_units)
                from (select *, row_number() over (partition by line_key order by period_start desc) = 1 as is_last
                      from marts.fct_revenue_schedule where schedule_status <> 'scheduled') as schedule
                join reference.currencies as currencies using (currency_code)
                group by 1 order by 1""").fetchall():
            unit = Decimal(1).scaleb(-minor_units)
            lines.append(f"  {currency} recognized to date {recognized.quantize(unit):,}, "
                         f"net deferred balance {deferred.quantize(unit):,}")
        entry_counts = connection.execute("""
                select entry_type, count(*), count(distinct subsidiary_code || currency_code),
                    count(*) filter (where posting_period <> accounting_period),
                    count(*) filter (where posting_status = 'blocked'),
                    count(*) filter (where total_debit <> total_credit)
                from marts.fct_journal_entries group by 1 order by 1""").fetchall()
        for entry_type, count, books, late, blocked, unbalanced in entry_counts:
            lines.append(f"  {entry_type:<28} {count:>6,} entries in {books} subsidiary/currency books, "
                         f"{late:,} posted in a later open period, {blocked:,} blocked, {unbalanced:,} unbalanced")
        coverage = connection.execute("""
                select entry_lines.subsidiary_code, entry_lines.currency_code,
                    string_agg(distinct contract_lines.line_kind, ', ' order by contract_lines.line_kind)
                from marts.fct_journal_entry_lines as entry_lines
                join staging.stg_salesforce__contract_lines as contract_lines using (line_key)
                group by 1, 2 order by 1 desc, 2""").fetchall()
        lines.append("  line kinds with entries     " + "; ".join(
            f"{subsidiary} {currency}: {kinds}" for subsidiary, currency, kinds in coverage))

        last_runs = {(destination, object_name): counts for destination, object_name, *counts in connection.execute(
            "select destination, object_name, planned, unchanged, blocked, succeeded, failed + retry "
            "from reverse_etl.sync_runs "
            "qualify row_number() over (partition by destination, object_name order by finished_at desc) = 1"
        ).fetchall()}
        synced = {(destination, object_name): count for destination, object_name, count in connection.execute(
            "select destination, object_name, count(*) from reverse_etl.sync_ledger where status = 'synced' "
            "group by 1, 2").fetchall()}
        blocked_reasons = reason_kinds([reason for (reason,) in connection.execute(
            "select reason from reverse_etl.sync_plan where action = 'blocked' and destination = 'netsuite'"
        ).fetchall()], top=4)
        reconciliation = connection.execute(
            "select reconciliation_status, count(*), count(*) filter (where is_break) "
            "from marts.rpt_billing_reconciliation group by 1 order by 1").fetchall()
    lines += ["", "Reconciliation (marts.rpt_billing_reconciliation: events -> rated -> sent -> in NetSuite -> invoiced)"]
    lines.append("  " + ", ".join(f"{rows:,} {status}" for status, rows, _ in reconciliation)
                 + f"; {sum(broken for _, _, broken in reconciliation):,} breaking")
    lines += ["", "Reverse ETL (latest run per object; ledger in reverse_etl.sync_ledger, plan in reverse_etl.sync_plan)"]
    for label, key, held in (("NetSuite usage records", ("netsuite", "usage_records"), "netsuite_usage"),
                             ("NetSuite journal entries", ("netsuite", "journal_entries"), "netsuite_journal_entries"),
                             ("Salesforce usage summaries", ("salesforce", "usage_summaries"),
                              "salesforce_usage_summaries"),
                             ("Salesforce credit balances", ("salesforce", "credit_balances"),
                              "salesforce_credit_balances"),
                             ("Salesforce account fields", ("salesforce", "accounts"), "salesforce_accounts")):
        planned, unchanged, blocked, pushed, failed = last_runs.get(key, (0, 0, 0, 0, 0))
        lines.append(f"  {label:<28} {synced.get(key, 0):>6,} synced in all; latest run: {planned:,} planned, "
                     f"{pushed:,} pushed, {unchanged:,} unchanged, {blocked:,} blocked, {failed:,} failed; "
                     f"{readback[held]:,} in the destination now"
                     + (f" with a credit balance, {readback['salesforce_account_alerts']:,} with a usage alert"
                        if held == "salesforce_accounts" else ""))
    for _, count, example in blocked_reasons:
        lines.append(f"    blocked x{count:,}, e.g. {example}")
    lines += [
        "",
        "Where to look next",
        f"  warehouse:   {warehouse}  (duckdb -readonly, or any DuckDB client; marts in schema 'marts')",
        f"  run log:     {warehouse.parent / 'logs' / 'demo-run.log'}",
        "  emulators:   stopped now; `make emulators` runs them again on https://127.0.0.1:8443 (NetSuite) and "
        ":8444 (Salesforce) and writes .env.emulators (URLs, credentials, CA bundle)",
        "  Dagster UI:  with `make emulators` running, `make dagster-dev` opens http://127.0.0.1:3000, "
        "the demo's runs in its history (partitions, schedule, sensors, checks)",
        "  trace:       `meterledger trace <usage record or journal entry external ID>` -> contract line, "
        "pricing, period, events",
        f"  finance BI:  the public marts as Parquet in {warehouse.parent / 'published' / 'current'}; "
        "`make bi` builds finance's pages from them, `make bi-serve` serves them on http://127.0.0.1:3001",
    ]
    return "\n".join(lines)
