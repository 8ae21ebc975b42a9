"""`make bench`: ingestion throughput against DuckDB's own read_parquet of the same files.

Writes bench/results.json and bench/results.md and prints the table. Options:
``--events N`` (default 10,000,000), ``--customers N`` (5,000), ``--repeat N`` (3),
``--workdir PATH``. Each stage runs ``--repeat`` times in a fresh process on a fresh database;
the table shows the median run (the machine's noise is a few tenths of a second per run).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

from bench.workload import write_workload

HERE = Path(__file__).resolve().parent
INGESTION_TARGET = 0.5  # ingestion must reach half of read_parquet's throughput


def run_stage(stage: str, *arguments: str) -> dict:
    """Run one stage in a child process; its own peak resident memory comes from wait4."""
    process = subprocess.Popen([sys.executable, "-m", "bench.stages", stage, *arguments],
                               stdout=subprocess.PIPE, cwd=HERE.parent)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"bench stage {stage} failed with exit code {process.returncode}")
    result = json.loads(output.decode().strip().splitlines()[-1])
    result["peak_memory_mib"] = round(usage.ru_maxrss / 1024, 1)  # ru_maxrss is in KiB on Linux
    return result


def median_run(stage: str, data_root: Path, workdir: Path, repeat: int) -> dict:
    """Run a stage ``repeat`` times, each on a new database; keep the median run and every
    run's time."""
    runs = []
    for attempt in range(repeat):
        target = workdir / f"{stage}-{attempt}"
        target.mkdir(parents=True)
        runs.append(run_stage(stage, str(data_root), str(target / "warehouse.duckdb")))
        shutil.rmtree(target, ignore_errors=True)
        print(f"  {stage} run {attempt + 1}: {runs[-1]['seconds']:.2f} s", flush=True)
    median = sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]
    return {**median, "all_seconds": [round(run["seconds"], 3) for run in runs]}


def markdown(results: dict) -> str:
    rows = ["| stage | wall time (s), median | all runs (s) | events/s | peak memory (MiB) |",
            "|---|---:|---|---:|---:|"]
    for name, stage in results["stages"].items():
        runs = ", ".join(f"{seconds:.2f}" for seconds in stage["all_seconds"])
        rows.append(f"| {name} | {stage['seconds']:.2f} | {runs} | {stage['events_per_second']:,.0f} "
                    f"| {stage['peak_memory_mib']:,.0f} |")
    ratio = results["ratios"]["ingestion_vs_read_parquet"]
    rows += ["", f"Ingestion throughput / read_parquet throughput: **{ratio:.2f}** "
                 f"(target ≥ {INGESTION_TARGET}: {'met' if ratio >= INGESTION_TARGET else 'NOT met'})"]
    steps = results["stages"]["ingestion"].get("steps", {})
    if steps:
        rows.append("dlt steps (s): " + ", ".join(f"{step} {seconds:.2f}" for step, seconds in steps.items()))
    workload = results["workload"]
    rows.append(f"Workload: {workload['events']:,} events, {workload['customers']:,} customers, "
                f"{workload['files']} Parquet files, {workload['bytes'] / 2**20:,.0f} MiB; "
                f"{results['machine']['cpus']} CPUs.")
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=HERE / "work")
    options = parser.parse_args()

    shutil.rmtree(options.workdir, ignore_errors=True)
    data_root = options.workdir / "usage"
    started = time.perf_counter()
    workload = write_workload(data_root, events=options.events, customers=options.customers,
                              day=date(2026, 11, 1))
    print(f"workload: {workload['events']:,} events in {workload['files']} files "
          f"({time.perf_counter() - started:.1f} s to write)", flush=True)

    stages = {name: median_run(name, data_root, options.workdir, options.repeat)
              for name in ("read_parquet", "ingestion")}
    for name, stage in stages.items():
        if stage["rows"] != options.events:
            raise SystemExit(f"bench stage {name} loaded {stage['rows']:,} rows, expected {options.events:,}")
        stage["events_per_second"] = stage["rows"] / stage["seconds"]
    results = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
        "workload": workload,
        "stages": stages,
        "ratios": {"ingestion_vs_read_parquet":
                   stages["ingestion"]["events_per_second"] / stages["read_parquet"]["events_per_second"]},
    }
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (HERE / "results.md").write_text(table)
    print(table)
    shutil.rmtree(options.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
