"""`make bench`: ingestion throughput against DuckDB's own read_parquet of the same files, then
the dbt build of the usage and billing path on the same events.

Writes bench/results.json and bench/results.md and prints the table. Options:
``--events N`` (default 10,000,000), ``--customers N`` (5,000), ``--repeat N`` (3),
``--dbt-repeat N`` (1), ``--dbt-memory-limit`` (DuckDB's limit in the dbt stage, 3GB),
``--workdir PATH``. The ingestion stages run in turn, ``--repeat`` rounds, each run in a fresh
process on a fresh database; the table shows each stage's median run and the ratio of the
medians, and each round's own ratio.

The dbt stage bills the workload against the demo generator's contracts (bench/context.py):
its set-up, not measured, loads the events with the usage pipeline and the generator's
Salesforce and NetSuite seeds through the emulators and the production dlt sources into a new
warehouse; then one process runs ``dbt build --select +fct_usage_records +fct_invoice_lines
+fct_usage_lineage`` (models, seeds and their tests), whose wall time and peak memory are
measured, and reports the slowest models and what became of the events.
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
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from bench.context import write_context
from bench.workload import write_workload

HERE = Path(__file__).resolve().parent
INGESTION_TARGET = 0.5  # ingestion must reach half of read_parquet's throughput
WORKLOAD_DAY = date(2026, 11, 1)
# The dbt stage's run date: the morning after the workload's day, fixed so the figures do not
# depend on the day the bench runs (the build would otherwise bill up to today).
DBT_AS_OF = WORKLOAD_DAY + timedelta(days=1)
MEMORY_CEILING_MIB = 4096
BILLED_SHARE_EXPECTED = 0.95  # the workload's events all hit active usage lines


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


def dbt_runs(data_root: Path, context_dir: Path, workdir: Path, repeat: int, memory_limit: str,
             systems: tuple[str, ...]) -> dict:
    """The dbt stage, ``repeat`` times, each on a new warehouse prepared by unmeasured stages."""
    runs = []
    for attempt in range(repeat):
        target = workdir / f"dbt_build-{attempt}"
        target.mkdir(parents=True)
        database = str(target / "warehouse.duckdb")
        setup_started = time.perf_counter()
        usage = run_stage("ingestion", str(data_root), database)
        context = run_stage("crm_erp", str(context_dir), database, str(target / "emulators"), ",".join(systems))
        setup = {"usage_seconds": round(usage["seconds"], 2), "crm_erp_seconds": round(context["seconds"], 2),
                 "crm_erp_systems": context["systems"], "crm_erp_peak_memory_mib": context["peak_memory_mib"],
                 "total_seconds": round(time.perf_counter() - setup_started, 2)}
        print(f"  dbt set-up {attempt + 1}: usage {usage['rows']:,} rows in {usage['seconds']:.1f} s, "
              f"{' and '.join(systems)} in {context['seconds']:.1f} s (peak {context['peak_memory_mib']:,.0f} MiB)",
              flush=True)
        run = run_stage("dbt_build", database, str(target), DBT_AS_OF.isoformat(), memory_limit)
        run["setup"] = setup
        run["outcome"] = run_stage("usage_outcome", database)
        del run["outcome"]["peak_memory_mib"]
        runs.append(run)
        print(f"  dbt build {attempt + 1}: {run['seconds']:.2f} s, peak {run['peak_memory_mib']:,.0f} MiB"
              f"{'' if run['success'] else ' (FAILED: see ' + run['log'] + ')'}", flush=True)
        if run["success"]:
            shutil.rmtree(target, ignore_errors=True)
    median = sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]
    return {**median, "all_seconds": [round(run["seconds"], 3) for run in runs]}


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
    dbt = results["stages"].get("dbt_build")
    if dbt:
        rows += ["", f"dbt build (`{dbt['selection']}`, as_of {dbt['as_of']}, DuckDB memory_limit "
                     f"{dbt['duckdb_memory_limit']}): **{dbt['seconds']:.1f} s**, "
                     f"{dbt['events_per_second']:,.0f} events/s, peak {dbt['peak_memory_mib']:,.0f} MiB "
                     f"({'under' if dbt['peak_memory_mib'] < MEMORY_CEILING_MIB else 'NOT under'} 4 GiB); "
                     f"{'succeeded' if dbt['success'] else 'FAILED'}; nodes: "
                     + ", ".join(f"{count} {status}" for status, count in dbt["nodes_by_status"].items())
                     + "; time by kind (s): "
                     + ", ".join(f"{kind} {seconds:.1f}" for kind, seconds in dbt["seconds_by_resource_type"].items())
                     + f"; parse (not measured) {dbt['parse_seconds']:.1f} s.",
                 "Slowest models (s): " + ", ".join(f"{node['node'].split('.')[-1]} {node['seconds']:.1f}"
                                                    for node in dbt["slowest_models"]) + "."]
        outcome = dbt["outcome"]
        rows.append(outcome_line(outcome))
        setup = dbt["setup"]
        rows.append(f"dbt set-up (not measured): usage ingestion {setup['usage_seconds']:.1f} s; "
                    + ", ".join(f"{system} {seconds:.1f} s" for system, seconds in setup["crm_erp_systems"].items())
                    + f" through the emulators (peak {setup['crm_erp_peak_memory_mib']:,.0f} MiB).")
        for problem in dbt["problems"]:
            rows.append(f"- {problem['node']}: {problem['status']}")
    workload = results["workload"]
    rows.append(f"Workload: {workload['events']:,} events on {workload['day']}, {workload['customers']:,} "
                f"customers, {workload['usage_lines']:,} usage lines ({workload['meters']} meters) of the "
                f"demo generator's {results['context']['contracts']:,} contracts, "
                f"{workload['files']} Parquet files, {workload['bytes'] / 2**20:,.0f} MiB; "
                f"{results['machine']['cpus']} CPUs.")
    return "\n".join(rows) + "\n"


def outcome_line(outcome: dict) -> str:
    def share(key: str) -> str:
        value = outcome.get(key)
        if value is None:
            return f"{key} n/a"
        return f"{key} {value:,} ({value / outcome['rows']:.1%})" if outcome.get("rows") else f"{key} {value:,}"

    reasons = outcome.get("quarantine_reasons") or {}
    return ("Events: " + ", ".join(share(key) for key in ("valid", "attributed", "billed", "quarantined", "duplicate"))
            + f" of {outcome.get('rows') or 0:,} rows"
            + (" (quarantined: " + ", ".join(f"{reason} {count:,}" for reason, count in reasons.items()) + ")"
               if reasons else "")
            + f"; {outcome.get('usage_records') or 0:,} usage records, {outcome.get('invoice_lines') or 0:,} "
              "invoice lines.")


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dbt-repeat", type=int, default=1, help="dbt build runs (0 skips the dbt stage)")
    parser.add_argument("--dbt-memory-limit", default="3GB",
                        help="DuckDB memory_limit in the dbt stage (METERLEDGER_DUCKDB_MEMORY_LIMIT); "
                             "dbt and Python come on top, the stage stays under 4 GiB")
    parser.add_argument("--dbt-with-netsuite", action="store_true",
                        help="also load NetSuite in the dbt stage's set-up (no selected model reads it; "
                             "at 5,000 customers its extract takes ~25 min on the emulator)")
    parser.add_argument("--workdir", type=Path, default=HERE / "work")
    options = parser.parse_args()
    # No telemetry from the stages, whether run through make or not.
    os.environ.update({"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "RUNTIME__DLTHUB_TELEMETRY": "false"})

    shutil.rmtree(options.workdir, ignore_errors=True)
    context_dir = options.workdir / "context"
    started = time.perf_counter()
    context = write_context(context_dir, customers=options.customers, day=WORKLOAD_DAY)
    print(f"context: demo generator, {options.customers:,} customers, {context['contracts']:,} contracts, "
          f"{len(context['lines']):,} usage lines active on {WORKLOAD_DAY} "
          f"({time.perf_counter() - started:.1f} s)", flush=True)
    data_root = options.workdir / "usage"
    started = time.perf_counter()
    workload = write_workload(data_root, events=options.events, lines=context.pop("lines"), day=WORKLOAD_DAY)
    print(f"workload: {workload['events']:,} events in {workload['files']} files "
          f"({time.perf_counter() - started:.1f} s to write)", flush=True)

    stages = interleaved_runs(("read_parquet", "ingestion"), data_root, options.workdir, options.repeat)
    for name, stage in stages.items():
        if stage["rows"] != options.events:
            raise SystemExit(f"bench stage {name} loaded {stage['rows']:,} rows, expected {options.events:,}")
        stage["events_per_second"] = stage["rows"] / stage["seconds"]
    if options.dbt_repeat > 0:
        systems = ("salesforce", "netsuite") if options.dbt_with_netsuite else ("salesforce",)
        dbt = dbt_runs(data_root, context_dir, options.workdir, options.dbt_repeat, options.dbt_memory_limit, systems)
        dbt["events_per_second"] = options.events / dbt["seconds"]
        stages["dbt_build"] = dbt
    results = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
        "workload": workload,
        "context": context,
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
    dbt = stages.get("dbt_build")
    if dbt and not dbt["success"]:
        raise SystemExit(f"bench: dbt build failed; its work folder is kept, log in {dbt['log']}")
    shutil.rmtree(options.workdir, ignore_errors=True)
    if dbt and (dbt["outcome"].get("billed") or 0) < BILLED_SHARE_EXPECTED * options.events:
        raise SystemExit(f"bench: only {dbt['outcome'].get('billed') or 0:,} of {options.events:,} events "
                         "were billed; see the outcome line above")


if __name__ == "__main__":
    main()
