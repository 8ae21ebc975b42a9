"""The fixed overhead of a day without new usage: the delivery run of a day whose folder holds no
files, then the daily build after it, through Dagster and dbt as the schedule runs them
(meterledger/pipeline.py), against running emulators (the daily build reads NetSuite, posts
journal entries and syncs Salesforce).

What it costs does not depend on the day's events, so the warehouse is small: the demo
generator's data set the test suite uses (16 customers, 30,000 events over 75 days), backfilled
and built first (not measured). Then the next day's delivery run and the daily build are timed,
each on its own, in this process: Dagster's definitions are already loaded, as in a long-running
daemon, but each dbt invocation is its own process, as in production.
"""
from __future__ import annotations

import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

# The test suite's small demo (tests/conftest.py, SMALL_DEMO): every line kind and charge model.
IDLE_DEMO = {"seed": 7, "customers": 16, "events": 30_000, "days": 75, "start_date": date(2026, 8, 1)}


def _events(warehouse: Path) -> int:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select count(*) from raw_usage.usage_events").fetchone()[0]


def _step_seconds(run_id: str) -> dict[str, float]:
    """Each step's wall time in a finished run, from Dagster's own run storage."""
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        return {stat.step_key: round(stat.end_time - stat.start_time, 2)
                for stat in instance.get_run_step_stats(run_id) if stat.end_time and stat.start_time}


def no_new_events(work: Path) -> dict:
    """Prepare (generate, backfill, daily build), then time one quiet day's runs. Dagster's,
    dbt's and the emulators' console output goes to ``<work>/runs.log``: standard output carries
    the stage's result, standard error its progress."""
    from emulators.demo_data.generator import generate
    from emulators.runner import EmulatorStack
    from meterledger.pipeline import delivery_days, pipeline_environment, run_daily_build, run_delivery

    work.mkdir(parents=True, exist_ok=True)
    data_dir, warehouse = work / "demo_data", work / "warehouse" / "meterledger.duckdb"
    dagster_home = work / "dagster_home"
    dagster_home.mkdir(exist_ok=True)
    # The repository's instance settings (one slot per warehouse pool), telemetry off.
    settings = (Path(__file__).resolve().parent.parent / ".dagster" / "dagster.yaml").read_text()
    (dagster_home / "dagster.yaml").write_text(settings)

    saved = os.dup(1), os.dup(2)
    log = open(work / "runs.log", "w")
    progress = os.fdopen(os.dup(2), "w")
    sys.stdout.flush(), sys.stderr.flush()
    os.dup2(log.fileno(), 1)  # what Dagster, dbt (their subprocesses too) and the emulators print
    os.dup2(log.fileno(), 2)
    started = time.perf_counter()
    try:
        generate(data_dir, **IDLE_DEMO)
        stack = EmulatorStack(state_dir=work / "emulators", seed_dir=data_dir).start()
        try:
            os.environ.update(pipeline_environment(stack.environment(), warehouse, data_dir / "usage"))
            os.environ["DAGSTER_HOME"] = str(dagster_home)
            first, last = delivery_days(data_dir / "usage")
            run_delivery(first, last)  # the backfill: one load, one dbt invocation (parses the project)
            run_daily_build()
            setup_seconds = time.perf_counter() - started
            events = _events(warehouse)
            quiet_day = last + timedelta(days=1)
            print(f"  no new events: prepared in {setup_seconds:.1f} s ({events:,} events, delivery days "
                  f"{first} to {last}); timing {quiet_day}", file=progress, flush=True)

            started = time.perf_counter()
            delivery_run = run_delivery(quiet_day, prepare=False)
            delivery_seconds = time.perf_counter() - started
            started = time.perf_counter()
            build_run = run_daily_build()
            build_seconds = time.perf_counter() - started
            if _events(warehouse) != events:
                raise SystemExit(f"bench no_new_events: the quiet day {quiet_day} loaded events")
        finally:
            stack.stop(save=False)
    finally:
        sys.stdout.flush(), sys.stderr.flush()
        for descriptor, copy in zip((1, 2), saved):
            os.dup2(copy, descriptor)
            os.close(copy)
        log.close()
        progress.close()
    return {"seconds": delivery_seconds + build_seconds, "delivery_run_seconds": delivery_seconds,
            "daily_build_seconds": build_seconds, "setup_seconds": round(setup_seconds, 2),
            "steps_seconds": {"usage_delivery": _step_seconds(delivery_run), "daily_billing": _step_seconds(build_run)},
            "log": str(work / "runs.log"),
            "quiet_day": quiet_day.isoformat(), "events_in_warehouse": events,
            "demo": {key: str(value) for key, value in IDLE_DEMO.items()}, "rows": 0}
