"""`make bench`: ingestion throughput against DuckDB's own read_parquet of the same files.

Writes bench/results.json and bench/results.md and prints the table. Options:
``--events N`` (default 10,000,000), ``--customers N`` (5,000), ``--repeat N`` (3),
``--workdir PATH``. The stages run in turn, ``--repeat`` rounds, each run in a fresh process on
a fresh database; the table shows each stage's median run and the ratio of the medians, and
each round's own ratio.
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
    results = {}
    for stage, stage_runs in runs.items():
        median = sorted(stage_runs, key=lambda run: run["seconds"])[len(stage_runs) // 2]
        results[stage] = {**median, "all_seconds": [round(run["seconds"], 3) for run in stage_runs]}
    return results


def markdown(results: dict) -> str:
    rows = ["| stage | wall time (s), median | all runs (s) | events/s | peak memory (MiB) |",
            "|---|---:|---|---:|---:|"]
    for name, stage in results["stages"].items():
        runs = ", ".join(f"{seconds:.2f}" for seconds in stage["all_seconds"])
        rows.append(f"| {name} | {stage['seconds']:.2f} | {runs} | {stage['events_per_second']:,.0f} "
                    f"| {stage['peak_memory_mib']:,.0f} |")
    ratio = results["ratios"]["ingestion_vs_read_parquet"]
    rows += ["", f"Ingestion throughput / read_parquet throughput: **{ratio:.2f}** "
                 f"(target ≥ {INGESTION_TARGET}: {'met' if ratio >= INGESTION_TARGET else 'NOT met'}); "
                 "round by round: " + ", ".join(f"{value:.2f}" for value in results["ratios"]["per_round"])]
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

    stages = interleaved_runs(("read_parquet", "ingestion"), data_root, options.workdir, options.repeat)
    for name, stage in stages.items():
        if stage["rows"] != options.events:
            raise SystemExit(f"bench stage {name} loaded {stage['rows']:,} rows, expected {options.events:,}")
        stage["events_per_second"] = stage["rows"] / stage["seconds"]
    results = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
        "workload": workload,
        "stages": stages,
        "ratios": {
            "ingestion_vs_read_parquet":
                stages["ingestion"]["events_per_second"] / stages["read_parquet"]["events_per_second"],
            "per_round": [round(baseline / ingestion, 3) for baseline, ingestion in
                          zip(stages["read_parquet"]["all_seconds"], stages["ingestion"]["all_seconds"])],
        },
    }
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (HERE / "results.md").write_text(table)
    print(table)
    shutil.rmtree(options.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
