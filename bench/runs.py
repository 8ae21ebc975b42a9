"""How the measured stages are run: each in a child process (bench/stages.py) whose wall time it
reports itself and whose peak memory comes from wait4; the unmeasured set-ups around them.

The Salesforce load every dbt build needs is made once (``prepare_base``) and copied for each
warehouse: it takes ~30 s and peaks at ~4.2 GiB at 5,000 customers, and every build bills the
same contracts. A copy is the warehouse file and dlt's pipeline state beside it.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_stage(stage: str, *arguments: str) -> dict:
    """Run one stage in a child process, through bench/launch.py: its peak resident memory comes
    from wait4 there (the largest of the stage and the processes it waited for: dbt's,
    Dagster's), on the last line of its output; the stage's result is the line before."""
    process = subprocess.run([sys.executable, "-m", "bench.launch", stage, *arguments],
                             stdout=subprocess.PIPE, cwd=HERE.parent)
    if process.returncode != 0:
        raise SystemExit(f"bench stage {stage} failed with exit code {process.returncode}")
    *_, output, peak = process.stdout.decode().strip().splitlines()
    result = json.loads(output)
    result["peak_memory_mib"] = round(json.loads(peak)["peak_memory_kib"] / 1024, 1)
    return result


def median(runs: list[dict]) -> dict:
    chosen = sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]
    return {**chosen, "all_seconds": [round(run["seconds"], 3) for run in runs]}


def interleaved_runs(stages: tuple[str, ...], data_root: Path, workdir: Path, repeat: int) -> dict:
    """Run the stages in turn, ``repeat`` rounds, each run on a new database, so that every
    stage samples the same moments of a machine whose speed drifts by 10-20 % over minutes.
    Each stage keeps its median run and every run's time; each round gives one ratio."""
    runs: dict[str, list[dict]] = {stage: [] for stage in stages}
    for attempt in range(repeat):
        for stage in stages:
            target = workdir / f"{stage}-{attempt}"
            target.mkdir(parents=True)
            runs[stage].append(run_stage(stage, str(data_root), str(target / "warehouse.duckdb")))
            shutil.rmtree(target, ignore_errors=True)
            print(f"  round {attempt + 1}, {stage}: {runs[stage][-1]['seconds']:.2f} s", flush=True)
    return {stage: median(stage_runs) for stage, stage_runs in runs.items()}


def prepare_base(context_dir: Path, workdir: Path, systems: tuple[str, ...]) -> dict:
    """The warehouse every dbt build starts from: the generator's CRM (and ERP) seeds loaded
    through the emulators by the production dlt sources. Not measured."""
    base = workdir / "base"
    base.mkdir(parents=True)
    loaded = run_stage("crm_erp", str(context_dir), str(base / "warehouse.duckdb"), str(base / "emulators"),
                       ",".join(systems))
    shutil.rmtree(base / "emulators", ignore_errors=True)
    print(f"  set-up: {' and '.join(systems)} loaded in {loaded['seconds']:.1f} s "
          f"(peak {loaded['peak_memory_mib']:,.0f} MiB), copied for each dbt build", flush=True)
    return {"path": str(base), "seconds": round(loaded["seconds"], 2), "systems": loaded["systems"],
            "peak_memory_mib": loaded["peak_memory_mib"]}


def from_base(base: dict, target: Path) -> str:
    """A new warehouse folder holding a copy of the base; returns the warehouse file."""
    shutil.copytree(base["path"], target)
    return str(target / "warehouse.duckdb")


def dbt_stage(database: str, target: Path, as_of: date, memory_limit: str, window: tuple[date, date]) -> dict:
    """One dbt build (bench/stages.py, dbt_build) with the delivery window an orchestrated run
    passes, then what became of the events (a stage of its own, not measured)."""
    target.mkdir(parents=True, exist_ok=True)
    run = run_stage("dbt_build", database, str(target), as_of.isoformat(), memory_limit,
                    window[0].isoformat(), window[1].isoformat())
    outcome = run_stage("usage_outcome", database)
    del outcome["peak_memory_mib"]
    run["outcome"] = outcome
    return run


def day_one(base: dict, data_root: Path, workdir: Path, *, repeat: int, memory_limit: str, day: date,
            events: int, name: str = "dbt_build") -> tuple[dict, dict | None]:
    """The day-1 build (a new warehouse with the day's events only), ``repeat`` times, each
    followed by the baseline query on the same files in its own process and database, so both
    sample the same moments. The first round also compares the baseline's amounts with the
    dbt path's. Returns the median dbt run and the median baseline run (None for ``scale``)."""
    builds, baselines, comparison = [], [], None
    for attempt in range(repeat):
        target = workdir / f"{name}-{attempt}"
        database = from_base(base, target)
        usage = run_stage("ingestion", str(data_root), database)
        if usage["rows"] != events:
            raise SystemExit(f"bench: the {name} set-up loaded {usage['rows']:,} events, expected {events:,}")
        run = dbt_stage(database, target / "dbt", day + timedelta(days=1), memory_limit, (day, day))
        run["setup"] = {"usage_seconds": round(usage["seconds"], 2)}
        run["events"], run["events_per_second"] = events, events / run["seconds"]
        builds.append(run)
        print(f"  {name} {attempt + 1}: {run['seconds']:.2f} s, {run['events_per_second']:,.0f} events/s, "
              f"peak {run['peak_memory_mib']:,.0f} MiB"
              f"{'' if run['success'] else ' (FAILED: see ' + run['log'] + ')'}", flush=True)
        if not run["success"]:
            return median(builds), None
        if name == "dbt_build":
            baseline_database = str(target / "baseline.duckdb")
            run_stage("contract_tables", database, baseline_database)
            measured = run_stage("baseline", str(data_root), baseline_database, memory_limit)
            measured["events"], measured["events_per_second"] = events, events / measured["seconds"]
            if comparison is None:
                comparison = run_stage("baseline_comparison", database, baseline_database, day.isoformat())
                del comparison["peak_memory_mib"]
            baselines.append(measured)
            print(f"  baseline {attempt + 1}: {measured['seconds']:.2f} s, peak "
                  f"{measured['peak_memory_mib']:,.0f} MiB", flush=True)
        shutil.rmtree(target, ignore_errors=True)
    if not baselines:
        return median(builds), None
    return median(builds), {**median(baselines), "comparison": comparison}


def day_n(base: dict, history_root: Path, history: dict, workdir: Path, *, memory_limit: str, day: date,
          events: int) -> dict:
    """Day N: a warehouse that already holds the history (its days ingested and built by the
    same dbt build with their delivery window, not measured), then the day's events ingested on
    top and the incremental build with the day's window, measured, as the daily partition run
    does it (dagster_defs/assets/transformation.py: the window goes to dbt as vars)."""
    first, last = date.fromisoformat(history["first_day"]), date.fromisoformat(history["last_day"])
    target = workdir / "day_n"
    database = from_base(base, target)
    loaded = run_stage("ingestion", str(history_root), database, last.isoformat())
    print(f"  day N set-up: {loaded['loaded']:,} history events ingested in {loaded['seconds']:.1f} s", flush=True)
    built = dbt_stage(database, target / "history", day, memory_limit, (first, last))
    if not built["success"]:
        raise SystemExit(f"bench: the history's dbt build failed; log in {built['log']}")
    print(f"  day N set-up: history built in {built['seconds']:.1f} s (peak {built['peak_memory_mib']:,.0f} MiB)",
          flush=True)
    usage = run_stage("ingestion", str(history_root), database, day.isoformat())
    if usage["loaded"] != events:
        raise SystemExit(f"bench: day N loaded {usage['loaded']:,} events, expected {events:,}")
    run = dbt_stage(database, target / "day", day + timedelta(days=1), memory_limit, (day, day))
    run.update(events=events, events_per_second=events / run["seconds"], history=history,
               history_build={key: built[key] for key in ("seconds", "peak_memory_mib", "slowest_models")},
               setup={"history_ingestion_seconds": round(loaded["seconds"], 2),
                      "usage_seconds": round(usage["seconds"], 2)})
    print(f"  day N build: {run['seconds']:.2f} s, peak {run['peak_memory_mib']:,.0f} MiB"
          f"{'' if run['success'] else ' (FAILED: see ' + run['log'] + ')'}", flush=True)
    if run["success"]:
        shutil.rmtree(target, ignore_errors=True)
    return run


def _sync_stage_run(workdir: Path, stage: str, label: str, rows: int) -> dict:
    """A sync stage, once, in a work folder of its own: its result, or the failed stage's record
    (its message on standard error above, the folder kept) when it did not do its work."""
    target = workdir / stage
    try:
        run = run_stage(stage, str(target), str(rows))
    except SystemExit as failure:
        print(f"  {label}: FAILED ({failure}); work folder kept in {target}", flush=True)
        return {"success": False, "error": str(failure), "rows": rows, "work_dir": str(target)}
    shutil.rmtree(target, ignore_errors=True)
    run.update(success=True, all_seconds=[round(run["seconds"], 3)])
    return run


def reverse_etl_run(workdir: Path, records: int) -> dict:
    """The reverse-ETL stage, once (NetSuite must hold every record and the sync confirm them)."""
    run = _sync_stage_run(workdir, "reverse_etl", "reverse ETL", records)
    if run["success"]:
        print(f"  reverse ETL: {run['rows']:,} usage records in {run['seconds']:.2f} s = "
              f"{run['records_per_second']:,.0f} records/s; ratio to the ceiling {run['ratio_to_ceiling']:.3f}",
              flush=True)
    return run


def recovery_run(workdir: Path, entries: int) -> dict:
    """The rerun after a killed journal-entry sync, once (bench/recovery.py)."""
    run = _sync_stage_run(workdir, "recovery", "recovery", entries)
    if run["success"]:
        print(f"  recovery: {run['rows']:,} entries read back in {run['read_back_seconds']:.2f} s with "
              f"{run['read_back_queries']} queries; rerun {run['seconds']:.2f} s", flush=True)
    return run


def no_new_events_run(workdir: Path) -> dict:
    target = workdir / "no_new_events"
    started = time.perf_counter()
    run = run_stage("no_new_events", str(target))
    print(f"  no new events: delivery run {run['delivery_run_seconds']:.1f} s + daily build "
          f"{run['daily_build_seconds']:.1f} s = {run['seconds']:.1f} s "
          f"(stage with its set-up {time.perf_counter() - started:.0f} s)", flush=True)
    shutil.rmtree(target, ignore_errors=True)
    return run
