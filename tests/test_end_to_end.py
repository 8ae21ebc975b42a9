"""The walking skeleton end to end: demo data -> dlt -> dbt -> reverse ETL -> emulators.

Every assertion compares what landed with an independent count: the generator's manifest, the
files themselves read back in Python, or the destination read back through its API.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from meterledger.connections.netsuite import NetSuiteConnection, netsuite_connection_from
from meterledger.connections.salesforce import SalesforceConnection, salesforce_connection_from
from meterledger.http import VerifiedSession

REJECTED = ("conflicting_duplicate", "missing_event_id", "unknown_customer", "unknown_meter", "negative_quantity",
            "non_numeric_quantity", "unparseable_timestamp")


def _query(run, sql):
    with duckdb.connect(str(run.warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def _netsuite(run) -> NetSuiteConnection:
    return netsuite_connection_from(run.stack.environment())


def _salesforce(run) -> SalesforceConnection:
    return salesforce_connection_from(run.stack.environment())


def _events_from_files(data_dir):
    """Every event row of every file, in load order (sorted path, then row)."""
    root = data_dir / "usage"
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".jsonl", ".parquet")):
        if path.suffix == ".jsonl":
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        else:
            rows = pq.read_table(path).to_pylist()
        yield from rows


def test_every_delivered_event_row_lands_raw(pipeline_run):
    [(rows,)] = _query(pipeline_run, "select count(*) from raw_usage.usage_events")
    assert rows == pipeline_run.manifest["events_written"]


def test_each_bad_event_kind_is_quarantined_with_its_reason(pipeline_run):
    bad = pipeline_run.manifest["bad_events"]
    counts = dict(_query(pipeline_run, "select quarantine_reason, count(*) from intermediate.int_usage_events_quarantined "
                                       "group by 1"))
    assert counts == {kind: bad[kind] for kind in REJECTED}
    [(duplicates,)] = _query(pipeline_run, "select count(*) from intermediate.int_usage_events_classified "
                                           "where disposition = 'duplicate'")
    assert duplicates == bad["exact_duplicate"]
    [(late,)] = _query(pipeline_run, "select count(*) from intermediate.int_usage_events_valid where is_late_arrival")
    assert late == bad["late_arrival"]


def test_a_contract_line_finer_than_its_currency_is_quarantined_not_billed(pipeline_run):
    """The demo data's Salesforce line priced finer than its currency (a JPY fee of 4500.50) is
    set aside with a message naming the field, while the daily build went on to bill the rest."""
    [line_key] = pipeline_run.manifest["bad_contract_lines"]["amount_finer_than_currency"]
    rows = _query(pipeline_run, "select record_type, record_key, field_name, field_value, currency_code, "
                                "quarantine_reason, quarantine_message from marts.fct_quarantined_contract_terms")
    assert len(rows) == 1
    record_type, record_key, field, value, currency, reason, message = rows[0]
    assert (record_type, record_key, field, reason) == ("contract_line", line_key, "Amount__c",
                                                        "amount_finer_than_currency")
    expected = {"JPY": ("4500.50", "Amount__c: 4500.5 has more decimals than JPY's 0"),
                "USD": ("99.995", "Amount__c: 99.995 has more decimals than USD's 2")}[currency]
    assert (value, message) == (Decimal(expected[0]), expected[1])
    [(billed,)] = _query(pipeline_run, f"select count(*) from marts.fct_invoice_lines where line_key = '{line_key}'")
    [(staged,)] = _query(pipeline_run, "select count(*) from staging.stg_salesforce__contract_lines "
                                       f"where line_key = '{line_key}'")
    [(recognized,)] = _query(pipeline_run, "select count(*) from marts.fct_revenue_schedule "
                                           f"where line_key = '{line_key}'")
    [(others,)] = _query(pipeline_run, "select count(*) from marts.fct_invoice_lines")
    assert (billed, staged, recognized) == (0, 0, 0) and others > 0


def test_valid_duplicate_and_quarantined_add_up_to_the_events_in_the_files(pipeline_run):
    in_files = sum(1 for _ in _events_from_files(pipeline_run.data_dir))
    counts = dict(_query(pipeline_run, "select disposition, count(*) from intermediate.int_usage_events_classified "
                                       "group by 1"))
    bad = pipeline_run.manifest["bad_events"]
    assert counts["valid"] + counts["duplicate"] + counts["quarantined"] == in_files
    assert counts["valid"] == pipeline_run.manifest["good_events"]
    assert counts["quarantined"] == sum(bad[kind] for kind in REJECTED)


def test_monthly_sum_usage_matches_the_files(pipeline_run):
    """Recompute monthly totals of the sum meters from the files, deduplicating in Python."""
    sum_meters = {"api_calls": "quantity", "compute_hours": "quantity", "payments_volume": "amount"}
    billed = {key for (key,) in _query(pipeline_run, "select event_id from marts.fct_usage_lineage")}
    seen: set[str] = set()
    expected: dict[tuple, Decimal] = defaultdict(Decimal)
    for event in _events_from_files(pipeline_run.data_dir):
        event_id = event.get("event_id")
        if not event_id or event_id in seen:
            continue
        seen.add(event_id)
        if event_id not in billed or event.get("meter") not in sum_meters:
            continue
        try:
            value = Decimal(str(event[sum_meters[event["meter"]]]))
        except (InvalidOperation, KeyError, TypeError):
            continue
        at = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).astimezone(timezone.utc)
        expected[(event["customer_id"], event["meter"], at.strftime("%Y-%m"))] += value
    actual = {(customer, meter, month.strftime("%Y-%m")): quantity for customer, meter, month, quantity in _query(
        pipeline_run, "select customer_key, meter_id, usage_month, sum(quantity) from marts.fct_usage_monthly "
                      "where meter_id in ('api_calls', 'compute_hours', 'payments_volume') group by 1, 2, 3")}
    assert expected and actual == dict(expected)


def test_usage_records_in_netsuite_match_the_sync_model(pipeline_run):
    wanted = {external_id: (quantity, str(line)) for external_id, quantity, line in _query(
        pipeline_run, "select external_id, usage_quantity, subscription_line_id "
                      "from reverse_etl_sync.sync_netsuite__usage_records where sync_blocked_reason is null")}
    in_netsuite = {row["externalid"]: (Decimal(row["usagequantity"]), row["usagesubscriptionline"]) for row in
                   _netsuite(pipeline_run).suiteql(
                       "SELECT externalid, usagequantity, usagesubscriptionline FROM usage")}
    assert wanted, "the demo range must hold final billing periods"
    assert in_netsuite == wanted


def test_only_final_usage_records_are_sent_to_netsuite(pipeline_run):
    sent = {row["externalid"] for row in _netsuite(pipeline_run).suiteql("SELECT externalid FROM usage")}
    statuses = dict(_query(pipeline_run, "select external_id, usage_status from marts.fct_usage_records"))
    assert sent and {statuses[external_id] for external_id in sent} <= {"final", "adjustment"}
    [(provisional, reasons)] = _query(pipeline_run, """
        select count(*), count(*) filter (where sync_blocked_reason like '%not final%')
        from reverse_etl_sync.sync_netsuite__usage_records as records
        inner join marts.fct_usage_records as usage using (external_id)
        where usage.usage_status = 'provisional'""")
    assert provisional > 0 and reasons == provisional


def test_journal_entries_in_netsuite_match_the_sync_model(pipeline_run):
    wanted = dict(_query(pipeline_run, """
        select external_id, sum(debit) from reverse_etl_sync.sync_netsuite__journal_entries group by 1"""))
    held = {row["externalid"]: Decimal(row["foreigntotal"]) for row in _netsuite(pipeline_run).suiteql(
        "SELECT externalid, foreigntotal FROM transaction WHERE type = 'Journal'")}
    assert wanted and {external_id: held.get(external_id) for external_id in wanted} == wanted  # to the cent
    # A version corrected after NetSuite's invoices were read back (billed to date changed) stays
    # in NetSuite, never deleted, beside its reversal: each pair nets to zero.
    assert_superseded_versions_are_reversed(set(held) - set(wanted), set(held), held)


def assert_superseded_versions_are_reversed(superseded: set[str], present: set[str],
                                            amounts: dict | None = None) -> None:
    """Each superseded version is present with its reversal (of the same amount)."""
    for external_id in superseded:
        original = external_id.removesuffix(":reversal")
        assert {original, f"{original}:reversal"} <= present, external_id
        if amounts is not None:
            assert amounts[original] == amounts[f"{original}:reversal"], external_id


def test_usage_summaries_in_salesforce_match_the_sync_model(pipeline_run):
    wanted = {external_id: (quantity, status) for external_id, quantity, status in _query(
        pipeline_run, "select external_id, quantity, status from reverse_etl_sync.sync_salesforce__usage_summaries")}
    in_salesforce = {record["External_Id__c"]: (Decimal(str(record["Quantity__c"])), record["Status__c"])
                     for record in _salesforce(pipeline_run).query(
                         "SELECT External_Id__c, Quantity__c, Status__c FROM Usage_Summary__c")}
    assert wanted and in_salesforce == wanted


def test_credit_balances_in_salesforce_match_the_sync_model(pipeline_run):
    wanted = dict(_query(pipeline_run, "select external_id, remaining_amount "
                                       "from reverse_etl_sync.sync_salesforce__credit_balances"))
    held = {record["External_Id__c"]: Decimal(str(record["Remaining_Amount__c"])) for record in
            _salesforce(pipeline_run).query("SELECT External_Id__c, Remaining_Amount__c FROM Credit_Balance__c")}
    assert wanted and held == wanted
    # Accounts without prepaid credit (a null balance) are synced for their usage alerts only.
    accounts = dict(_query(pipeline_run, "select account_id, credit_balance from reverse_etl_sync.sync_salesforce__accounts "
                                         "where credit_balance is not null"))
    ids = ", ".join(f"'{account}'" for account in accounts)
    balances = {record["Id"]: Decimal(str(record["Credit_Balance__c"])) for record in
                _salesforce(pipeline_run).query(f"SELECT Id, Credit_Balance__c FROM Account WHERE Id IN ({ids})")}
    assert balances == accounts


def test_usage_alerts_in_salesforce_match_the_sync_model(pipeline_run):
    wanted = {account: (level, message, runout and runout.isoformat()) for account, level, message, runout in _query(
        pipeline_run, "select account_id, usage_alert_level, usage_alert_message, credit_runout_date "
                      "from reverse_etl_sync.sync_salesforce__accounts")}
    ids = ", ".join(f"'{account}'" for account in wanted)
    held = {record["Id"]: (record["Usage_Alert_Level__c"], record["Usage_Alert__c"], record["Credit_Runout_Date__c"])
            for record in _salesforce(pipeline_run).query(
                "SELECT Id, Usage_Alert_Level__c, Usage_Alert__c, Credit_Runout_Date__c "
                f"FROM Account WHERE Id IN ({ids})")}
    assert wanted and held == wanted


def test_ledger_records_every_record_sent(pipeline_run):
    statuses = {(object_name, status): count for object_name, status, count in _query(
        pipeline_run, "select object_name, status, count(*) from reverse_etl.sync_ledger group by 1, 2")}
    [(usage_records,)] = _query(pipeline_run, "select count(*) from reverse_etl_sync.sync_netsuite__usage_records "
                                              "where sync_blocked_reason is null")
    wanted_entries = {external_id for (external_id,) in _query(
        pipeline_run, "select distinct external_id from reverse_etl_sync.sync_netsuite__journal_entries")}
    synced_entries = {external_id for (external_id,) in _query(
        pipeline_run, "select external_id from reverse_etl.sync_ledger "
                      "where object_name = 'journal_entries' and status = 'synced'")}
    assert wanted_entries <= synced_entries
    assert_superseded_versions_are_reversed(synced_entries - wanted_entries, synced_entries)
    entries = len(synced_entries)
    [(summaries,)] = _query(pipeline_run, "select count(*) from reverse_etl_sync.sync_salesforce__usage_summaries")
    [(balances,)] = _query(pipeline_run, "select count(*) from reverse_etl_sync.sync_salesforce__credit_balances")
    [(accounts,)] = _query(pipeline_run, "select count(*) from reverse_etl_sync.sync_salesforce__accounts")
    assert statuses == {("usage_records", "synced"): usage_records, ("journal_entries", "synced"): entries,
                        ("usage_summaries", "synced"): summaries, ("credit_balances", "synced"): balances,
                        ("accounts", "synced"): accounts}


def _sync_cli(*args: str, **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "meterledger", "sync", *args], capture_output=True, text=True,
                          env={**os.environ, **environment}, timeout=600)


def test_sync_command_dry_run_plans_and_a_live_rerun_writes_nothing(pipeline_run):
    netsuite_log = f"{pipeline_run.stack.netsuite_server.base_url}/_emulator/requests"
    session = VerifiedSession(str(pipeline_run.stack.certificates.ca_bundle))
    writes_before = session.get(netsuite_log, timeout=10).json()["writes"]

    dry = _sync_cli("--dry-run")
    live = _sync_cli("--destination", "netsuite")

    assert dry.returncode == 0, dry.stderr
    [(sendable, model_rows)] = _query(pipeline_run, "select count(*) filter (where sync_blocked_reason is null), "
                                                    "count(*) from reverse_etl_sync.sync_netsuite__usage_records")
    assert f"netsuite usage_records: {model_rows} planned: 0 create, 0 update, {sendable} unchanged" in dry.stdout
    assert "blocked x" in dry.stdout and "not final" in dry.stdout and "which is closed" in dry.stdout
    assert "nothing sent" in dry.stdout
    assert live.returncode == 0, live.stderr
    assert "sent 0: 0 synced" in live.stdout
    assert session.get(netsuite_log, timeout=10).json()["writes"] == writes_before
    [(plan_rows,)] = _query(pipeline_run, "select count(*) from reverse_etl.sync_plan where destination = 'netsuite' "
                                          "and object_name = 'usage_records'")
    assert plan_rows == model_rows


def test_sync_command_names_every_mapping_problem_before_sending(pipeline_run, tmp_path):
    bad = tmp_path / "netsuite.yml"
    bad.write_text((Path(__file__).parents[1] / "reverse_etl" / "mappings" / "netsuite.yml").read_text()
                   .replace("usage_quantity:", "usage_qty:").replace("credit_block_id:", "credit_block:"))
    result = _sync_cli("--destination", "netsuite", NETSUITE_FIELD_MAPPING=str(bad))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1  # one line
    assert "column 'usage_qty' is not a column of sync_netsuite__usage_records" in result.stderr
    assert "column 'credit_block' is not a column of sync_netsuite__journal_entries" in result.stderr


def _table_fingerprints(run) -> dict[str, tuple[int, int]]:
    """Row count and an order-independent content hash of every raw and staging table, and of the
    classified usage events.

    Bookkeeping of when a row was (re)loaded is not content: dlt's _dlt_* columns and the load IDs
    staging carries change when an incremental cursor re-reads its last instant and merges it, and
    the run stamp of the classification when a partition is materialized again.
    """
    with duckdb.connect(str(run.warehouse), read_only=True) as connection:
        columns = connection.execute("""
            select table_schema, table_name, list(column_name order by ordinal_position)
            from information_schema.columns
            where (table_schema like 'raw\\_%' escape '\\' or table_schema = 'staging'
                   or (table_schema = 'intermediate' and table_name like 'int\\_usage\\_events\\_%' escape '\\'))
                -- dlt's own working datasets for merges (raw_<system>_staging) are not raw tables
                and table_schema not like '%\\_staging' escape '\\'
                and table_name not like '\\_dlt%' escape '\\'
            group by 1, 2""").fetchall()
        fingerprints = {}
        for schema, table, names in columns:
            content = [f'"{name}"' for name in names
                       if not name.startswith("_dlt") and name not in ("load_id", "classified_at")]
            fingerprints[f"{schema}.{table}"] = connection.execute(
                f'select count(*), coalesce(sum(hash({", ".join(content)})::hugeint), 0) '
                f'from "{schema}"."{table}"').fetchone()
    return fingerprints


@pytest.fixture(scope="module")
def run_again(pipeline_run):
    """The last delivery day run again with its daily build, then the period-close job run again
    by hand, once for the tests below; what they compare is taken before it.

    Without dagster-dbt's `dbt parse` first (about 12 s): the Dagster definitions this process
    runs were built from the manifest pipeline_run's parse wrote, and stay loaded, so a new
    manifest on disk would change nothing the job does (the dbt step parses the project again
    itself). A deployed code location likewise parses once, not before every run."""

    from meterledger import pipeline

    before = {"events": _query(pipeline_run, "select count(*) from raw_usage.usage_events"),
              "fingerprints": _table_fingerprints(pipeline_run)}
    pipeline.run_daily(pipeline_run.flow.last_day, prepare=False)  # the last delivery day, again
    pipeline.run_period_close()
    return before


def test_a_second_run_loads_nothing_new_and_sends_nothing(pipeline_run, run_again):
    assert _query(pipeline_run, "select count(*) from raw_usage.usage_events") == run_again["events"]
    last_runs = _query(pipeline_run, """
        select object_name, sent, to_create + to_update from reverse_etl.sync_runs
        qualify row_number() over (partition by destination, object_name order by finished_at desc) = 1""")
    assert sorted(last_runs) == [(name, 0, 0) for name in sorted(
        ["usage_records", "journal_entries", "usage_summaries", "credit_balances", "accounts"])]
    raw_accounts = _query(pipeline_run, "select count(*), count(distinct id) from raw_salesforce.account")
    assert raw_accounts[0][0] == raw_accounts[0][1] == pipeline_run.manifest["counts"]["salesforce_records"]["Account"]


def test_loading_the_same_data_again_leaves_every_raw_and_staging_table_unchanged(pipeline_run, run_again):
    """After the next-day run has read back what the loop pushed, nothing changes anywhere."""
    # What the loop's builds posted comes back with this run, and only that changes: the journal
    # entries (corrected once NetSuite's invoices were read), the Account fields the Salesforce
    # sync writes (read back with the delivery run's Salesforce load), the read-back's time.
    posted_back = {"raw_netsuite.journalentry", "raw_netsuite.journalentryline",
                   "staging.stg_netsuite__journal_entries", "staging.stg_netsuite__journal_entry_lines",
                   "staging.stg_netsuite__usage_loads", "raw_salesforce.account", "staging.stg_salesforce__accounts"}
    fingerprints = _table_fingerprints(pipeline_run)
    # The Accounts keep their rows.
    assert fingerprints["staging.stg_salesforce__accounts"][0] == \
        run_again["fingerprints"]["staging.stg_salesforce__accounts"][0] > 0
    before = {table: value for table, value in run_again["fingerprints"].items() if table not in posted_back}
    after = {table: value for table, value in fingerprints.items() if table not in posted_back}
    for table in ("raw_usage.usage_events", "raw_usage.usage_files", "raw_salesforce.account",
                  "raw_netsuite.subscriptionline", "intermediate.int_usage_events_valid", "staging.stg_salesforce__contracts",
                  "staging.stg_netsuite__subscription_lines"):
        assert run_again["fingerprints"][table][0] > 0, table
    assert after == before
