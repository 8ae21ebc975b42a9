"""Drive the Dagster jobs in-process, the way `make demo` and the tests do: the delivery run for a
day or a backfill's range, the daily build after it, and what the daemon would do next (the
period-close sensor and the runs it starts). Under `dagster dev` the schedule and the daemon do
the same."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def pipeline_environment(destinations: dict[str, str], warehouse: Path, usage_root: Path) -> dict[str, str]:
    """The environment the Dagster resources and dbt read at run time."""
    return {
        **destinations,
        "METERLEDGER_WAREHOUSE": str(warehouse),
        "METERLEDGER_USAGE_ROOT": str(usage_root),
        # The public marts' Parquet copy BI reads (meterledger/publish.py), beside the warehouse.
        "METERLEDGER_PUBLISHED_DIR": str(warehouse.parent / "published"),
        "DAGSTER_HOME": os.environ.get("DAGSTER_HOME") or str(REPO_ROOT / ".dagster"),
        # Where run and check failures are POSTed; empty: the Dagster log only.
        "METERLEDGER_ALERT_WEBHOOK_URL": os.environ.get("METERLEDGER_ALERT_WEBHOOK_URL", ""),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }


def prepare_dbt() -> None:
    """Parse the dbt project so the manifest the dbt assets are built from exists."""
    from dagster_defs.project import dbt_project

    dbt_project.preparer.prepare(dbt_project)


def _definitions(prepare: bool = True):
    # dagster-dbt runs `dbt` from PATH: this environment's, even when it is not activated.
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([scripts, os.environ.get("PATH", "")])
    if prepare:
        prepare_dbt()
    from dagster_defs.definitions import defs

    return defs


def _run_config(log_level: str) -> dict:
    return {"loggers": {"console": {"config": {"log_level": log_level}}}}


def run_delivery(first_day: date, last_day: date | None = None, log_level: str = "WARNING",
                 prepare: bool = True) -> str:
    """The delivery run for one day, or for a range as one run (a backfill: one load, one dbt
    invocation of the incremental models), as the schedule or a backfill starts it."""
    from dagster import DagsterInstance

    defs = _definitions(prepare)
    last_day = last_day or first_day
    tags = {RANGE_START: first_day.isoformat(), RANGE_END: last_day.isoformat()}
    with DagsterInstance.get() as instance:
        result = defs.resolve_job_def("usage_delivery").execute_in_process(
            instance=instance, run_config=_run_config(log_level), tags=tags, raise_on_error=False)
    _raise_on_failure(result)
    return result.run_id


def run_daily_build(log_level: str = "WARNING", prepare: bool = False) -> str:
    """The daily build ``daily_billing_after_delivery`` starts after delivery runs."""
    from dagster import DagsterInstance

    defs = _definitions(prepare)
    with DagsterInstance.get() as instance:
        result = defs.resolve_job_def("daily_billing").execute_in_process(
            instance=instance, run_config=_run_config(log_level), raise_on_error=False)
    _raise_on_failure(result)
    return result.run_id


def run_daily(first_day: date, last_day: date | None = None, log_level: str = "WARNING",
              prepare: bool = True) -> str:
    """A delivery run (a day or a range), then the daily build after it. Returns the build's run
    ID; raises naming the failed steps."""
    run_delivery(first_day, last_day, log_level=log_level, prepare=prepare)
    return run_daily_build(log_level=log_level)


@dataclass
class CloseOutcome:
    """What one evaluation of the period-close sensor did."""

    cursor: str | None
    periods: list[str] = field(default_factory=list)  # billing periods whose close ran now
    run_ids: list[str] = field(default_factory=list)
    skip_reason: str | None = None


def close_periods(cursor: str | None, log_level: str = "WARNING", prepare: bool = False) -> CloseOutcome:
    """Evaluate the period-close sensor once from ``cursor`` and run what it requests, as the
    daemon would; the returned cursor is the sensor's next."""
    from dagster import DagsterInstance, build_sensor_context

    from dagster_defs.sensors import PERIODS_TAG, period_close_sensor

    defs = _definitions(prepare)
    with DagsterInstance.get() as instance:
        context = build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
        result = period_close_sensor(context)
        if not hasattr(result, "run_requests"):  # a SkipReason
            return CloseOutcome(cursor=cursor, skip_reason=getattr(result, "skip_message", str(result)))
        outcome = CloseOutcome(cursor=result.cursor)
        for request in result.run_requests:
            run = defs.resolve_job_def("period_close").execute_in_process(
                instance=instance, run_config=_run_config(log_level), raise_on_error=False,
                tags={**request.tags, "dagster/run_key": request.run_key, "dagster/sensor_name": "period_close_sensor"})
            _raise_on_failure(run)
            outcome.run_ids.append(run.run_id)
            outcome.periods += request.tags.get(PERIODS_TAG, "").split(",")
    return outcome


def run_period_close(log_level: str = "WARNING", prepare: bool = False) -> str:
    """The period-close job started by hand (a re-run): the guards, then the NetSuite postings
    of whatever is closed and not yet sent."""
    from dagster import DagsterInstance

    defs = _definitions(prepare)
    with DagsterInstance.get() as instance:
        result = defs.resolve_job_def("period_close").execute_in_process(
            instance=instance, run_config=_run_config(log_level), raise_on_error=False)
    _raise_on_failure(result)
    return result.run_id


def load_cursor(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def save_cursor(path: Path, cursor: str | None) -> None:
    if cursor is not None:
        path.write_text(cursor)


def netsuite_bill_runs(warehouse: Path, netsuite_app) -> int:
    """NetSuite's side of the loop, played by the emulator: its scheduled bill runs invoice each
    subscription for every closed billing period whose usage records meterledger posted. Returns
    the number of invoices NetSuite holds for those periods."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute("""
            select records.period_start, records.period_end,
                list(distinct records.netsuite_subscription_id order by records.netsuite_subscription_id)
            from marts.fct_usage_records as records
            inner join marts.rpt_billing_period_close as periods
                on records.period_start = periods.period_start and records.period_end = periods.period_end
            inner join reverse_etl.sync_ledger as ledger
                on ledger.destination = 'netsuite' and ledger.object_name = 'usage_records'
                and ledger.external_id = records.external_id and ledger.status = 'synced'
            where periods.is_closed and records.netsuite_subscription_id is not null
            group by 1, 2 order by 1, 2""").fetchall()
    return sum(len(netsuite_app.run_billing(start, end, [str(item) for item in subscriptions]))
               for start, end, subscriptions in rows)


def delivery_days(usage_root: Path) -> tuple[date, date]:
    """The first and last delivery day folder under the usage root."""
    days = sorted({part.name for source in usage_root.iterdir() if source.is_dir()
                   for part in source.iterdir() if part.is_dir()})
    dated = [date.fromisoformat(day) for day in days if len(day) == 10]
    if not dated:
        raise ValueError(f"no delivery day folders (<source>/YYYY-MM-DD/) under {usage_root}")
    return dated[0], dated[-1]


def _raise_on_failure(result) -> None:
    if result.success:
        return
    failures = [event for event in result.all_events if event.is_step_failure]
    detail = "; ".join(f"{event.step_key}: {_essence(event.step_failure_data.error)}"
                       for event in failures) or "see the Dagster run log"
    raise RuntimeError(f"Dagster run {result.run_id} failed: {detail}")


def _essence(error) -> str:
    """The lines of a step failure that name what broke: the root cause, dbt's parsed errors."""
    while error.cause is not None:
        error = error.cause
    lines = [line.strip() for line in error.message.strip().splitlines() if line.strip()]
    named = [line for line in lines if " in model " in line or " in test " in line or "Error:" in line]
    return " | ".join(named[:6]) if named else lines[0]



@dataclass
class FlowOutcome:
    first_day: date
    last_day: date
    closed: CloseOutcome
    invoices: int


def backfill_close_and_read_back(usage_root: Path, warehouse: Path, netsuite_app, cursor_path: Path,
                                 log_level: str = "WARNING") -> FlowOutcome:
    """The whole loop on a folder of deliveries, as the schedule and the daemon would run it:

    1. the backfill of every delivery day but the last, as one run (one load, one dbt build);
    2. the delivery run of the last day, and the daily build after both;
    3. the period-close sensor, and the NetSuite postings it starts for the closed periods;
    4. NetSuite's bill runs invoicing them (the emulator, ``netsuite_app``);
    5. the next daily build, which reads the posted records and the invoices back and
       reconciles them (rpt_billing_reconciliation), its checks guarding the next syncs.
    The sensor's cursor is kept in ``cursor_path`` between calls (the daemon keeps its own)."""
    first_day, last_day = delivery_days(usage_root)
    if first_day < last_day:
        run_delivery(first_day, last_day - timedelta(days=1), log_level=log_level)
    # The backfill and the last day land one after the other: one daily build follows both, as
    # daily_billing_after_delivery does for a burst of delivery runs.
    run_delivery(last_day, log_level=log_level, prepare=first_day == last_day)
    run_daily_build(log_level=log_level)
    closed = close_periods(load_cursor(cursor_path), log_level=log_level)
    save_cursor(cursor_path, closed.cursor)
    invoices = netsuite_bill_runs(warehouse, netsuite_app)
    # The next daily build (the next day brings no usage files here) reads NetSuite back.
    run_daily_build(log_level=log_level)
    return FlowOutcome(first_day=first_day, last_day=last_day, closed=closed, invoices=invoices)
