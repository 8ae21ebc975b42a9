"""`make bench`: the daily pipeline's stages on one day of synthetic usage (10M events for 5,000
customers by default), each against what it is compared with, in the same run on the same data:

- ingestion (the usage dlt pipeline) against DuckDB's own ``read_parquet`` of the same files,
  in turns, ``--repeat`` rounds;
- the dbt build of the usage and billing path on an empty history (day 1) against the baseline,
  one hand-written DuckDB query over the same Parquet files (bench/baseline.py), in turns,
  ``--dbt-repeat`` rounds, with the two paths' amounts compared;
- the same day built incrementally on a warehouse holding ``--history-days`` days of history
  (day N) against day 1;
- a daily run without new events through Dagster and dbt (bench/idle.py);
- the reverse-ETL push of usage records into NetSuite against its concurrency-limited ceiling;
- the rerun after a journal-entry sync killed with ``--recovery-entries`` entries in flight: its
  set-based read-back against a few seconds (bench/recovery.py);
- with ``--scale-events N``, the day-1 build at N events, its events/s against day 1's.

Each measured stage runs in a child process of its own (wall time, peak memory from wait4);
bench/results.json and bench/results.md get the table and the ratio block, which is printed.
``--only GROUP[,GROUP]`` runs some groups and merges their figures into the last results.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from datetime import date, datetime, timezone
from pathlib import Path

from bench import report, runs
from bench.context import lines_on, write_context
from bench.workload import write_history, write_workload

HERE = Path(__file__).resolve().parent
WORKLOAD_DAY = date(2026, 11, 1)
BILLED_SHARE_EXPECTED = 0.95  # the workload's events all hit active usage lines
GROUPS = ("ingestion", "dbt_build", "day_n", "no_new_events", "reverse_etl", "recovery", "scale")
# The history day N builds on. 90 days at 10M a day (900M events) would take over 3 hours to
# build at the dbt path's ~78k events/s on this machine, and the day-N build on top of it hours
# more; at 20,000 a day the history is 1.8M events, built in ~26 s, and adds ~23 us per history
# event to the day-N build: the default run takes ~9 minutes (README, "Benchmark").
HISTORY_DAYS = 90
HISTORY_EVENTS_PER_DAY = 20_000


def options_from(arguments: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--events", type=int, default=10_000_000, help="usage events of the measured day")
    parser.add_argument("--customers", type=int, default=5_000)
    # Two rounds, not three: the third cost ~27 s of the 30-minute budget the day-N build needs.
    parser.add_argument("--repeat", type=int, default=2, help="ingestion / read_parquet rounds")
    parser.add_argument("--dbt-repeat", type=int, default=1, help="day-1 dbt build / baseline rounds")
    parser.add_argument("--dbt-memory-limit", default="3GB",
                        help="DuckDB memory_limit of the dbt builds and the baseline "
                             "(METERLEDGER_DUCKDB_MEMORY_LIMIT); dbt and Python come on top")
    parser.add_argument("--dbt-with-netsuite", action="store_true",
                        help="also load NetSuite in the dbt set-up (no selected model reads it; "
                             "at 5,000 customers its extract takes ~25 min on the emulator)")
    parser.add_argument("--history-days", type=int, default=HISTORY_DAYS, help="days of history under day N")
    parser.add_argument("--history-events-per-day", type=int, default=HISTORY_EVENTS_PER_DAY,
                        help="events a history day (reduced from the measured day's: see the README)")
    parser.add_argument("--scale-events", type=int, default=0,
                        help="also build the day at this many events and compare events/s (0: off)")
    parser.add_argument("--recovery-entries", type=int, default=10_000,
                        help="journal entries in flight when the recovery stage's sync is killed")
    parser.add_argument("--sync-records", type=int, default=20_000,
                        help="usage records the reverse-ETL stage pushes into the NetSuite emulator")
    parser.add_argument("--only", type=lambda text: [group.strip() for group in text.split(",") if group.strip()],
                        help=f"run these groups only ({', '.join(GROUPS)}; comma-separated) and merge their "
                             "figures into the existing bench/results.json")
    parser.add_argument("--workdir", type=Path, default=HERE / "work")
    options = parser.parse_args(arguments)
    unknown = set(options.only or ()) - set(GROUPS)
    if unknown:
        parser.error(f"--only: unknown group(s) {', '.join(sorted(unknown))}; choose from {', '.join(GROUPS)}")
    return options


def selected_groups(options: argparse.Namespace) -> set[str]:
    if options.only:
        return set(options.only)
    skipped = {"scale"} if options.scale_events <= 0 else set()
    if options.dbt_repeat <= 0:
        skipped |= {"dbt_build", "day_n", "scale"}
    return set(GROUPS) - skipped


def main() -> None:
    options = options_from()
    # No telemetry from the stages, whether run through make or not; DuckDB as the warehouse.
    os.environ.update({"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "RUNTIME__DLTHUB_TELEMETRY": "false",
                       "METERLEDGER_DESTINATION": "duckdb", "METERLEDGER_DBT_TARGET": "duckdb"})
    selected = selected_groups(options)
    bench_started = time.perf_counter()
    shutil.rmtree(options.workdir, ignore_errors=True)
    results_file = HERE / "results.json"
    results = json.loads(results_file.read_text()) if options.only and results_file.exists() else {}
    run_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results.update({"updated_at" if results else "measured_at": run_at,
                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "system": platform.platform()}})
    stages = results.setdefault("stages", {})
    fresh: dict[str, dict] = {}  # this run's stages
    durations: dict[str, float] = {}  # this run's wall time per group, set-ups included

    def timed(group: str, started: float) -> None:
        durations[group] = round(time.perf_counter() - started, 1)

    events_day = selected & {"ingestion", "dbt_build", "day_n", "scale"}
    if events_day:
        started = time.perf_counter()
        context_dir = options.workdir / "context"
        context = write_context(context_dir, customers=options.customers, day=WORKLOAD_DAY)
        windows = context.pop("windows")
        data_root = options.workdir / "usage"
        workload = write_workload(data_root, events=options.events, lines=context.pop("lines"), day=WORKLOAD_DAY)
        results.update(workload=workload, context=context)
        print(f"context and workload: {options.customers:,} customers, {context['contracts']:,} contracts; "
              f"{workload['events']:,} events on {WORKLOAD_DAY} to {workload['usage_lines']:,} usage lines in "
              f"{workload['files']} files ({time.perf_counter() - started:.1f} s)", flush=True)
        timed("workload", started)

    if "ingestion" in selected:
        started = time.perf_counter()
        print(f"ingestion against read_parquet, {options.repeat} rounds", flush=True)
        measured = runs.interleaved_runs(("read_parquet", "ingestion"), data_root, options.workdir, options.repeat)
        for name, stage in measured.items():
            if stage["rows"] != options.events:
                raise SystemExit(f"bench stage {name} loaded {stage['rows']:,} rows, expected {options.events:,}")
            stage["events_per_second"] = stage["rows"] / stage["seconds"]
        fresh.update(measured)
        results["ingestion_rounds"] = {"per_round": [
            round(baseline / loaded, 3) for baseline, loaded in
            zip(measured["read_parquet"]["all_seconds"], measured["ingestion"]["all_seconds"])]}
        timed("ingestion", started)

    if selected & {"dbt_build", "day_n", "scale"}:
        started = time.perf_counter()
        systems = ("salesforce", "netsuite") if options.dbt_with_netsuite else ("salesforce",)
        base = runs.prepare_base(context_dir, options.workdir, systems)
        results["dbt_setup"] = {key: base[key] for key in ("seconds", "systems", "peak_memory_mib")}
        timed("dbt_setup", started)
    common = {"memory_limit": options.dbt_memory_limit, "day": WORKLOAD_DAY}
    if "dbt_build" in selected:
        started = time.perf_counter()
        print(f"day-1 dbt build against the baseline query, {max(1, options.dbt_repeat)} round(s)", flush=True)
        dbt, baseline = runs.day_one(base, data_root, options.workdir, repeat=max(1, options.dbt_repeat),
                                     events=options.events, **common)
        fresh["dbt_build"] = dbt
        if baseline:
            fresh["baseline"] = baseline
        timed("dbt_build", started)
    if "day_n" in selected and fresh.get("dbt_build", stages.get("dbt_build", {})).get("success", True):
        started = time.perf_counter()
        history_root = options.workdir / "history"
        history = write_history(history_root, days=options.history_days,
                                events_per_day=options.history_events_per_day,
                                lines_on=lambda day: lines_on(windows, day), workload_root=data_root, day=WORKLOAD_DAY)
        print(f"day N: {history['days']} days of history, {history['events']:,} events, then the day's "
              f"{options.events:,} built incrementally", flush=True)
        fresh["day_n"] = runs.day_n(base, history_root, history, options.workdir, events=options.events, **common)
        timed("day_n", started)
    if "scale" in selected and options.scale_events > 0:
        started = time.perf_counter()
        scale_root = options.workdir / "usage_scale"
        write_workload(scale_root, events=options.scale_events, lines=lines_on(windows, WORKLOAD_DAY), day=WORKLOAD_DAY)
        print(f"scale: the day-1 build at {options.scale_events:,} events", flush=True)
        scale, _ = runs.day_one(base, scale_root, options.workdir, repeat=1, events=options.scale_events,
                                name="scale", **common)
        fresh["scale"] = scale
        timed("scale", started)
    if "no_new_events" in selected:
        started = time.perf_counter()
        print("daily run with no new events (Dagster and dbt, small warehouse, emulators)", flush=True)
        fresh["no_new_events"] = runs.no_new_events_run(options.workdir)
        timed("no_new_events", started)
    if "reverse_etl" in selected:
        started = time.perf_counter()
        fresh["reverse_etl"] = runs.reverse_etl_run(options.workdir, options.sync_records)
        timed("reverse_etl", started)
    if "recovery" in selected:
        started = time.perf_counter()
        print(f"recovery: a journal-entry sync killed with {options.recovery_entries:,} entries in flight, rerun",
              flush=True)
        fresh["recovery"] = runs.recovery_run(options.workdir, options.recovery_entries)
        timed("recovery", started)

    for stage in fresh.values():
        stage["run_at"] = run_at
    stages.update(fresh)
    results["stages"] = {name: stages[name] for name in sorted(
        stages, key=lambda name: report.STAGE_ORDER.index(name) if name in report.STAGE_ORDER else 99)}
    results["ratios"] = report.ratios(results)
    durations["total"] = round(time.perf_counter() - bench_started, 1)
    results["group_seconds"] = durations
    results["options"] = {key: str(value) for key, value in vars(options).items()}
    results_file.write_text(json.dumps(results, indent=2) + "\n")
    table = report.markdown(results)
    (HERE / "results.md").write_text(table)
    print(table)
    print("bench: " + ", ".join(f"{group} {seconds:.0f} s" for group, seconds in durations.items()), flush=True)
    check(fresh, options)
    shutil.rmtree(options.workdir, ignore_errors=True)


def check(fresh: dict, options: argparse.Namespace) -> None:
    """Fail the run (after the results are written) when a stage did not do its work."""
    for name in ("dbt_build", "day_n", "scale"):
        build = fresh.get(name)
        if build and not build["success"]:
            raise SystemExit(f"bench: {name} failed; its work folder is kept, log in {build['log']}")
    sync = fresh.get("reverse_etl")
    if sync and not sync["success"]:
        raise SystemExit(f"bench: the reverse-ETL stage failed ({sync['error']}); see its message above")
    recovery = fresh.get("recovery")
    if recovery and not recovery["success"]:
        raise SystemExit(f"bench: the recovery stage failed ({recovery['error']}); see its message above")
    dbt = fresh.get("dbt_build")
    if dbt and (dbt["outcome"].get("billed") or 0) < BILLED_SHARE_EXPECTED * options.events:
        raise SystemExit(f"bench: only {dbt['outcome'].get('billed') or 0:,} of {options.events:,} events "
                         "were billed; see the outcome line above")


if __name__ == "__main__":
    main()
