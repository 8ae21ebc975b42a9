"""Incremental equals full refresh (issue 23, item 6).

The demo warehouse is built day by day through the Dagster jobs, as the daily schedule runs them
(meterledger/pipeline.py): the usage_delivery partitioned job, a backfill's range as one run and
then one run per delivery day, and the daily_billing build after them. Along the way a CRM user
activates a price change in Salesforce (the emulator's REST API), a source delivers a late file
(events of a billing period already final) and a source rewrites a file it delivered earlier
(its next version: one row's quantity raised, another row removed). A copy of the final
warehouse (the same raw data, the same sync ledger) is then rebuilt with `dbt build --full-refresh` and every model of the marts and
reverse_etl_sync schemas must hold the same rows, exact decimal for exact decimal.

It compares models, not materializations: it assumes nothing about which models are incremental.
Both builds run without `as_of`, as the Dagster runs do: the last daily build and the full
refresh run on the same UTC day (the run date); earlier runs may fall on the day before, as the
schedule's runs do.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import simplejson

from tests.dbt_runs import WAREHOUSE_NAME, parsed_project, run_dbt
from tests.warehouse_diff import compare_models

# Smaller than the suite's SMALL_DEMO: 45 days make August final before the last days arrive.
DEMO = {"seed": 7, "customers": 16, "events": 20_000, "days": 45, "start_date": date(2026, 8, 1)}
COMPARED_SCHEMAS = ("marts", "reverse_etl_sync")
SINGLE_DAYS = 3  # the last delivery days, one run each; the days before them are one backfill run
LATE_QUANTITIES = (Decimal("7"), Decimal("11"), Decimal("5"))
REWRITE_DELTA = Decimal("1.25")
# The last daily build and the full refresh take less than this together (about 1.5 min).
LAST_BUILD_AND_FULL_REFRESH = timedelta(minutes=4)

# The first test's setup runs the whole day-by-day build (about 2.5 to 4.5 min on 2 busy cores),
# and may wait up to LAST_BUILD_AND_FULL_REFRESH for midnight: more than the suite's 600 s default.
pytestmark = pytest.mark.timeout(900)


@dataclass(frozen=True)
class Period:
    line_key: str
    start: date
    end: date


@dataclass(frozen=True)
class Targets:
    """Where the perturbations land: three usage lines, each in its latest final billing period."""

    amended: Period  # a unit-priced line the amendment splits
    effective_date: date
    late: Period  # an api_calls line the late events belong to
    rewritten: Period  # a compute_hours line one row of a rewritten file feeds
    rewritten_file: str
    rewritten_row: int
    rewritten_record: str  # the external ID of that period's usage record
    removed_row: int  # another row of the file, of another line, which the new version leaves out
    removed_event_id: str


@dataclass(frozen=True)
class Before:
    """The marts the perturbations change, as the daily build after the backfill left them."""

    amended_invoice_lines: list[tuple]
    late_adjustments: set[str]
    late_final_record: tuple
    rewritten_quantity: Decimal


@dataclass
class DayByDay:
    warehouse: Path
    run_date: date
    targets: Targets
    before: Before
    late_delivered_on: date


def _run_date_for(duration: timedelta) -> date:
    """Today's UTC date, after waiting for the next day if ``duration`` from now would end on it:
    dbt's run date is today's when as_of is unset, and the two builds compared need the same."""
    now = datetime.now(timezone.utc)
    if (now + duration).date() != now.date():
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
        time.sleep((midnight - now).total_seconds() + 1)
    return datetime.now(timezone.utc).date()


def _query(warehouse: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql, params or []).fetchall()


def _last_final_period(warehouse: Path, where: str, exclude: set[str]) -> Period:
    """The latest billing period whose usage record is final, of a usage line matching ``where``
    (on fct_usage_records as records), that has usage, a single billing segment and at least 20
    days; the first such line by key, leaving out ``exclude``."""
    rows = _query(warehouse, f"""
        select records.line_key, records.period_start, records.period_end
        from marts.fct_usage_records as records
        inner join marts.fct_invoice_lines as invoice_lines
            on invoice_lines.line_key = records.line_key
            and invoice_lines.period_start >= records.period_start
            and invoice_lines.period_end <= records.period_end
        where records.usage_status = 'final' and records.quantity > 0
            and records.period_end - records.period_start >= 19 and ({where})
        group by all
        having count(*) = 1
        order by records.period_start desc, records.line_key""")
    for line_key, start, end in rows:
        if line_key not in exclude:
            return Period(line_key, start, end)
    raise AssertionError(f"no final usage period of a line where {where} outside {sorted(exclude)}")


def _choose_targets(warehouse: Path) -> Targets:
    amended = _last_final_period(warehouse, """
        records.line_key in (
            select line_key from staging.stg_salesforce__contract_lines where price_model = 'unit')
        and records.line_key not in (
            select lines.line_key from staging.stg_salesforce__amendments as amendments
            inner join staging.stg_salesforce__contract_lines as lines using (contract_line_id))""", set())
    late = _last_final_period(warehouse, "records.meter_id = 'api_calls'", {amended.line_key})
    rewritten = _last_final_period(warehouse, "records.meter_id = 'compute_hours'", {amended.line_key, late.line_key})
    # A row of the period's last week, delivered on time (inside the period).
    [(rewritten_file, rewritten_row)] = _query(warehouse, """
        select file_name, file_row from marts.fct_usage_lineage
        where line_key = ? and usage_source = 'batch_metering' and event_at >= ? and event_at < ? and delivered_on <= ?
        order by event_at desc, event_id limit 1""",
                                               [rewritten.line_key, rewritten.end - timedelta(days=6),
                                                rewritten.end + timedelta(days=1), rewritten.end])
    [(rewritten_record,)] = _query(warehouse, """
        select external_id from marts.fct_usage_records
        where line_key = ? and period_start = ? and usage_status = 'final'""", [rewritten.line_key, rewritten.start])
    # The first billed row of another line: the rows after it move up one in the new version.
    [(removed_row, removed_event_id)] = _query(warehouse, """
        select file_row, event_id from marts.fct_usage_lineage
        where file_name = ? and file_row <> ? and line_key not in (?, ?, ?)
        order by file_row limit 1""", [rewritten_file, rewritten_row, amended.line_key, late.line_key,
                                       rewritten.line_key])
    return Targets(amended=amended, effective_date=amended.start + (amended.end - amended.start) // 2, late=late,
                   rewritten=rewritten, rewritten_file=rewritten_file, rewritten_row=rewritten_row,
                   rewritten_record=rewritten_record, removed_row=removed_row, removed_event_id=removed_event_id)


def _read_before(warehouse: Path, targets: Targets) -> Before:
    late = targets.late
    return Before(
        amended_invoice_lines=_invoice_lines(warehouse, targets.amended),
        late_adjustments={key for (key,) in _query(
            warehouse, "select external_id from marts.fct_usage_records where line_key = ? "
                       "and usage_status = 'adjustment'", [late.line_key])},
        late_final_record=_final_record(warehouse, late),
        rewritten_quantity=_query(warehouse, "select quantity from marts.fct_usage_records where external_id = ?",
                                  [targets.rewritten_record])[0][0])


def _final_record(warehouse: Path, period: Period) -> tuple:
    [record] = _query(warehouse, """
        select external_id, quantity, amount from marts.fct_usage_records
        where line_key = ? and period_start = ? and usage_status = 'final'""", [period.line_key, period.start])
    return record


def _invoice_lines(warehouse: Path, period: Period) -> list[tuple]:
    return _query(warehouse, """
        select period_start, period_end, pricing_version, quantity, amount
        from marts.fct_invoice_lines
        where line_key = ? and period_start >= ? and period_end <= ?
        order by period_start""", [period.line_key, period.start, period.end])


def _activate_price_change(connection, warehouse: Path, period: Period, effective_date: date) -> None:
    """What a CRM user does in Salesforce: a new Amendment__c on the line, activated, with a
    unit price 10 % lower from ``effective_date`` (the demo generator's price changes)."""
    [(line_id, contract_id, contract_key, unit_price, amendments)] = _query(warehouse, """
        select lines.contract_line_id, lines.contract_id, contracts.contract_key, lines.unit_price,
            (select count(*) from staging.stg_salesforce__amendments as amendments
             where amendments.contract_id = lines.contract_id)
        from staging.stg_salesforce__contract_lines as lines
        inner join staging.stg_salesforce__contracts as contracts on contracts.contract_id = lines.contract_id
        where lines.line_key = ?""", [period.line_key])
    amendment = {"Contract__c": contract_id, "Contract_Line__c": line_id,
                 "Amendment_Key__c": f"{contract_key}-A{amendments + 1}",
                 "Type__c": "price_change", "Effective_Date__c": effective_date.isoformat(),
                 "Status__c": "Activated", "Cancel__c": False, "New_Price_Model__c": "unit",
                 "New_Unit_Price__c": (unit_price * Decimal("0.9")).quantize(Decimal("0.000001")).normalize()}
    response = connection.request("POST", connection.data_path("/sobjects/Amendment__c"),
                                  data=simplejson.dumps(amendment, use_decimal=True),
                                  headers={"Content-Type": "application/json"}, safe_to_repeat=False)
    assert response.status_code == 201 and response.json()["success"], response.text


def _late_file(warehouse: Path, usage_root: Path, period: Period, delivered_on: date) -> Path:
    """A new file in a later delivery day's folder with three new events of the period's last
    week (copies of events the line billed, new IDs and quantities)."""
    sources = _query(warehouse, """
        select file_name, file_row from marts.fct_usage_lineage
        where line_key = ? and usage_source = 'product_api' and event_at >= ? and event_at < ?
        order by event_at, event_id limit ?""",
                     [period.line_key, period.end - timedelta(days=6), period.end + timedelta(days=1),
                      len(LATE_QUANTITIES)])
    assert len(sources) == len(LATE_QUANTITIES), sources
    events = []
    for number, ((file_name, file_row), quantity) in enumerate(zip(sources, LATE_QUANTITIES), start=1):
        event = json.loads((usage_root / file_name).read_text().splitlines()[file_row - 1])
        events.append({**event, "event_id": f"evt_late_{period.line_key}_{number}", "quantity": str(quantity)})
    path = usage_root / "product_api" / delivered_on.isoformat() / "events-late.jsonl"
    path.write_text("".join(json.dumps(event, sort_keys=True) + "\n" for event in events))
    return path


def _rewrite_file(usage_root: Path, targets: Targets) -> None:
    """The file again, as its producer corrected it: the target row's quantity raised by
    REWRITE_DELTA, the removed row left out."""
    path = usage_root / targets.rewritten_file
    table = pq.read_table(path)
    quantities = table.column("quantity").to_pylist()
    quantities[targets.rewritten_row - 1] = str(Decimal(quantities[targets.rewritten_row - 1]) + REWRITE_DELTA)
    table = table.set_column(table.schema.get_field_index("quantity"), "quantity", pa.array(quantities, pa.string()))
    kept = [row for row in range(table.num_rows) if row != targets.removed_row - 1]
    pq.write_table(table.take(kept), path, compression="zstd")


@pytest.fixture(scope="module")
def day_by_day(tmp_path_factory) -> DayByDay:
    from emulators.demo_data.generator import generate
    from emulators.runner import EmulatorStack
    from meterledger.connections.salesforce import salesforce_connection_from
    from meterledger.pipeline import pipeline_environment, run_daily_build, run_delivery

    workdir = tmp_path_factory.mktemp("incremental")
    manifest = generate(workdir / "demo_data", **DEMO)
    usage_root = workdir / "demo_data" / "usage"
    first_day, last_day = (date.fromisoformat(manifest["date_range"][end]) for end in ("start", "end"))
    single_days = [last_day - timedelta(days=back) for back in reversed(range(SINGLE_DAYS))]
    warehouse = workdir / "warehouse" / WAREHOUSE_NAME
    saved = dict(os.environ)
    stack = EmulatorStack(state_dir=workdir / "emulators", seed_dir=workdir / "demo_data").start()
    os.environ.update(pipeline_environment(stack.environment(), warehouse, usage_root))
    os.environ["DAGSTER_HOME"] = str(workdir / "dagster_home")
    (workdir / "dagster_home").mkdir()
    (workdir / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    try:
        run_delivery(first_day, single_days[0] - timedelta(days=1))
        run_daily_build()

        targets = _choose_targets(warehouse)
        before = _read_before(warehouse, targets)

        # Day N-2: a CRM user activates a price change effective inside a final period.
        _activate_price_change(salesforce_connection_from(stack.environment()), warehouse, targets.amended,
                               targets.effective_date)
        run_delivery(single_days[0], prepare=False)
        # Day N-1: its delivery holds a late file besides the day's own.
        _late_file(warehouse, usage_root, targets.late, single_days[1])
        run_delivery(single_days[1], prepare=False)
        # Day N: a source rewrote a file it delivered before the final period ended.
        _rewrite_file(usage_root, targets)
        run_delivery(single_days[2], prepare=False)
        # One daily build after the burst of delivery runs, as daily_billing_after_delivery starts it.
        run_date = _run_date_for(LAST_BUILD_AND_FULL_REFRESH)
        run_daily_build()
    finally:
        stack.stop(save=False)
        os.environ.clear()
        os.environ.update(saved)
    return DayByDay(warehouse=warehouse, run_date=run_date, targets=targets, before=before,
                    late_delivered_on=single_days[1])


@pytest.fixture(scope="module")
def full_refresh(day_by_day, tmp_path_factory) -> Path:
    """A copy of the day-by-day warehouse rebuilt from its raw data by `dbt build --full-refresh`."""
    workdir = tmp_path_factory.mktemp("full_refresh")
    warehouse = workdir / WAREHOUSE_NAME
    shutil.copy(day_by_day.warehouse, warehouse)
    built = run_dbt(["build", "--full-refresh", "--exclude-resource-type", "unit_test"], warehouse, workdir / "target")
    assert built.success, built.output
    assert datetime.now(timezone.utc).date() == day_by_day.run_date, "the compared builds ran on different run dates"
    return warehouse


def test_the_amendment_split_its_period_into_two_billing_segments(day_by_day):
    period, effective = day_by_day.targets.amended, day_by_day.targets.effective_date
    [(start, end, version, quantity, _)] = day_by_day.before.amended_invoice_lines
    assert (start, end, version) == (period.start, period.end, f"{period.line_key}:v1") and quantity > 0
    after = _invoice_lines(day_by_day.warehouse, period)
    assert [row[:3] for row in after] == [(period.start, effective - timedelta(days=1), f"{period.line_key}:v1"),
                                          (effective, period.end, f"{period.line_key}:v2")]
    # The period's usage is split between the segments, none lost or counted twice.
    assert sum(row[3] for row in after) == quantity


def test_the_late_file_became_an_adjustment_of_its_final_period(day_by_day):
    period = day_by_day.targets.late
    adjustments = _query(day_by_day.warehouse, """
        select external_id, quantity, usage_status, original_period_start, original_period_end, adjustment_reason
        from marts.fct_usage_records where line_key = ? and usage_status = 'adjustment'""", [period.line_key])
    [new] = [row for row in adjustments if row[0] not in day_by_day.before.late_adjustments]
    assert new[1:5] == (sum(LATE_QUANTITIES), "adjustment", period.start, period.end)
    assert f"delivered on {day_by_day.late_delivered_on.isoformat()}" in new[5]
    # The final record stays as it was.
    assert _final_record(day_by_day.warehouse, period) == day_by_day.before.late_final_record


def test_the_rewritten_file_changed_the_quantity_of_its_row(day_by_day):
    targets = day_by_day.targets
    [(version,)] = _query(day_by_day.warehouse,
                          "select max(file_version) from raw_usage.usage_files where file_name = ?",
                          [targets.rewritten_file])
    assert version == 2
    [(quantity, status)] = _query(day_by_day.warehouse,
                                  "select quantity, usage_status from marts.fct_usage_records where external_id = ?",
                                  [targets.rewritten_record])
    assert (quantity, status) == (day_by_day.before.rewritten_quantity + REWRITE_DELTA, "final")
    # The row the new version left out is no longer billed anywhere.
    assert _query(day_by_day.warehouse, "select * from marts.fct_usage_lineage where event_id = ?",
                  [targets.removed_event_id]) == []


def test_every_mart_and_sync_model_equals_a_full_refresh(day_by_day, full_refresh):
    models, differences = compare_models(day_by_day.warehouse, full_refresh, COMPARED_SCHEMAS,
                                         names=("incremental", "full refresh"))
    # Every model of the project in those schemas was built and compared, none left out.
    project = {f"{node.schema}.{node.name}" for node in parsed_project().nodes.values()
               if node.resource_type == "model" and node.schema in COMPARED_SCHEMAS}
    assert project and project <= set(models), sorted(project - set(models))
    assert not differences, "\n".join(
        difference.describe("incremental", "full refresh") for difference in differences)


def test_the_comparison_catches_a_one_cent_difference(full_refresh, tmp_path):
    altered = tmp_path / WAREHOUSE_NAME
    shutil.copy(full_refresh, altered)
    with duckdb.connect(str(altered)) as connection:
        [(key, amount)] = connection.execute("""
            select invoice_line_key, amount from marts.fct_invoice_lines
            where amount > 0 order by invoice_line_key limit 1""").fetchall()
        connection.execute("update marts.fct_invoice_lines set amount = amount + 0.01 where invoice_line_key = ?",
                           [key])
    _, differences = compare_models(full_refresh, altered, COMPARED_SCHEMAS, names=("full refresh", "altered"))
    [difference] = differences
    assert difference.model == "marts.fct_invoice_lines"
    [original], [changed] = difference.only_left, difference.only_right
    amount_at = difference.columns.index("amount")
    assert (original[0], changed[0]) == (key, key)
    assert (Decimal(original[amount_at]), Decimal(changed[amount_at])) == (amount, amount + Decimal("0.01"))
    report = difference.describe("full refresh", "altered")
    assert f"invoice_line_key={key!r}: amount full refresh={original[amount_at]!r} altered={changed[amount_at]!r}" \
        in report, report
