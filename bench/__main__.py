"""`make bench`: ingestion throughput against DuckDB's own read_parquet of the same files, then
the dbt build of the usage and billing path on the same events, then the reverse-ETL push of
usage records into NetSuite against the throughput its concurrency limit allows.

Writes bench/results.json and bench/results.md and prints the table. Options:
``--events N`` (default 10,000,000), ``--customers N`` (5,000), ``--repeat N`` (3),
``--dbt-repeat N`` (1), ``--dbt-memory-limit`` (DuckDB's limit in the dbt stage, 3GB),
``--sync-records N`` (20,000), ``--only STAGE`` (ingestion, dbt_build or reverse_etl: run that
stage alone and merge its figures into the existing results), ``--workdir PATH``. The ingestion
stages run in turn, ``--repeat`` rounds, each run in a fresh process on a fresh database; the
table shows each stage's median run and the ratio of the medians, and each round's own ratio.

The dbt stage bills the workload against the demo generator's contracts (bench/context.py):
its set-up, not measured, loads the events with the usage pipeline and the generator's
Salesforce and NetSuite seeds through the emulators and the production dlt sources into a new
warehouse; then one process runs ``dbt build --select +fct_usage_records +fct_invoice_lines
+fct_usage_lineage`` (models, seeds and their tests), whose wall time and peak memory are
measured, and reports the slowest models and what became of the events.

The reverse-ETL stage syncs ``--sync-records`` usage records from a DuckDB sync model
(``reverse_etl_sync.sync_netsuite__usage_records``) into a private NetSuite emulator, in its own
process, that adds 100 ms to every request and allows 5 at a time: the production sync
(``run_sync``: plan, batch upserts, confirmation by SuiteQL read-back, ledger) is timed as a
whole, then a SuiteQL count checks that NetSuite holds every record. Its ceiling is
limit x batch size / latency = 5 x 100 / 0.1 s = 5,000 records/s; the target is 80 % of it.
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
SYNC_TARGET = 0.8  # the reverse-ETL push must reach 80 % of what the concurrency limit lets through
STAGE_GROUPS = ("ingestion", "dbt_build", "reverse_etl")  # what --only can pick


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


def reverse_etl_run(workdir: Path, records: int) -> dict:
    """The reverse-ETL stage, once. A failed stage (NetSuite not holding every record, the sync
    not confirming them) is kept as failed, its message on standard error above."""
    target = workdir / "reverse_etl"
    try:
        run = run_stage("reverse_etl", str(target), str(records))
    except SystemExit as failure:
        print(f"  reverse ETL: FAILED ({failure}); work folder kept in {target}", flush=True)
        return {"success": False, "error": str(failure), "rows": records, "work_dir": str(target)}
    run.update(success=True, all_seconds=[round(run["seconds"], 3)],
               measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    print(f"  reverse ETL: {run['rows']:,} usage records in {run['seconds']:.2f} s = "
          f"{run['records_per_second']:,.0f} records/s; ceiling {run['ceiling_records_per_second']:,.0f} "
          f"records/s; ratio {run['ratio_to_ceiling']:.3f}; {run['requests_per_second']:.1f} requests/s "
          f"seen by the emulator", flush=True)
    shutil.rmtree(target, ignore_errors=True)
    return run


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
    rows = ["| stage | wall time (s), median | all runs (s) | throughput (/s) | peak memory (MiB) |",
            "|---|---:|---|---:|---:|"]
    for name, stage in results["stages"].items():
        if stage.get("success") is False and "seconds" not in stage:
            rows.append(f"| {name} | FAILED | | | |")
            continue
        runs = ", ".join(f"{seconds:.2f}" for seconds in stage["all_seconds"])
        rate = (f"{stage['records_per_second']:,.0f} records" if "records_per_second" in stage
                else f"{stage['events_per_second']:,.0f} events")
        rows.append(f"| {name} | {stage['seconds']:.2f} | {runs} | {rate} | {stage['peak_memory_mib']:,.0f} |")
    ratios = results.get("ratios") or {}
    if "ingestion_vs_read_parquet" in ratios:
        ratio = ratios["ingestion_vs_read_parquet"]
        rows += ["", f"Ingestion throughput / read_parquet throughput: **{ratio:.2f}** "
                     f"(target ≥ {INGESTION_TARGET}: {'met' if ratio >= INGESTION_TARGET else 'NOT met'}); "
                     "round by round: " + ", ".join(f"{value:.2f}" for value in ratios["per_round"])]
    steps = results["stages"].get("ingestion", {}).get("steps", {})
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
    workload = results.get("workload")
    if workload:
        rows.append(f"Workload: {workload['events']:,} events on {workload['day']}, {workload['customers']:,} "
                    f"customers, {workload['usage_lines']:,} usage lines ({workload['meters']} meters) of the "
                    f"demo generator's {results['context']['contracts']:,} contracts, "
                    f"{workload['files']} Parquet files, {workload['bytes'] / 2**20:,.0f} MiB; "
                    f"{results['machine']['cpus']} CPUs.")
    sync = results["stages"].get("reverse_etl")
    if sync:
        rows += ["", reverse_etl_line(sync)]
    return "\n".join(rows) + "\n"


def reverse_etl_line(sync: dict) -> str:
    if not sync.get("success", True):
        return (f"Reverse ETL (NetSuite usage records): **FAILED** for {sync['rows']:,} records: {sync['error']} "
                f"(the stage's message is in the bench output; work folder {sync['work_dir']}).")
    ratio = sync["ratio_to_ceiling"]
    phases = sync["phases_seconds"]
    return (f"Reverse ETL (NetSuite usage records, `run_sync`: plan, batch upserts, read-back, ledger), "
            f"{sync['rows']:,} records against the emulator at {sync['latency_seconds'] * 1000:.0f} ms latency "
            f"and a concurrency limit of {sync['concurrency']}: **{sync['records_per_second']:,.0f} records/s** "
            f"in {sync['seconds']:.2f} s; ceiling {sync['concurrency']} x {sync['batch_size']} / "
            f"{sync['latency_seconds']:g} s = {sync['ceiling_records_per_second']:,.0f} records/s; "
            f"ratio **{ratio:.3f}** (target ≥ {SYNC_TARGET}: {'met' if ratio >= SYNC_TARGET else 'NOT met'}); "
            f"{sync['requests']:,} requests seen by the emulator, {sync['requests_per_second']:.1f}/s ("
            + ", ".join(f"{kind} {count:,}" for kind, count in sync["requests_by_kind"].items())
            + "); phases (s): "
            + ", ".join(f"{name.replace('_', ' ')} {seconds:.2f}" for name, seconds in phases.items())
            + f"; NetSuite holds {sync['held_in_netsuite']:,} of {sync['rows']:,}; measured {sync['measured_at']}.")


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
    parser.add_argument("--sync-records", type=int, default=20_000,
                        help="usage records the reverse-ETL stage pushes into the NetSuite emulator")
    parser.add_argument("--only", choices=STAGE_GROUPS,
                        help="run this stage alone (ingestion: read_parquet and ingestion) and merge its "
                             "figures into the existing bench/results.json")
    parser.add_argument("--workdir", type=Path, default=HERE / "work")
    options = parser.parse_args()
    # No telemetry from the stages, whether run through make or not.
    os.environ.update({"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "RUNTIME__DLTHUB_TELEMETRY": "false"})
    selected = {options.only} if options.only else {
        "ingestion", "reverse_etl", *(("dbt_build",) if options.dbt_repeat > 0 else ())}

    shutil.rmtree(options.workdir, ignore_errors=True)
    results_file = HERE / "results.json"
    results = {}
    if options.only and results_file.exists():  # the stages not run keep their last figures
        results = json.loads(results_file.read_text())
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results.update({"updated_at" if results else "measured_at": now,
                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "system": platform.platform()}})
    stages = results.setdefault("stages", {})

    if selected & {"ingestion", "dbt_build"}:
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
        results.update(workload=workload, context=context)

    if "ingestion" in selected:
        ingestion = interleaved_runs(("read_parquet", "ingestion"), data_root, options.workdir, options.repeat)
        for name, stage in ingestion.items():
            if stage["rows"] != options.events:
                raise SystemExit(f"bench stage {name} loaded {stage['rows']:,} rows, expected {options.events:,}")
            stage["events_per_second"] = stage["rows"] / stage["seconds"]
        stages.update(ingestion)
        results["ratios"] = {
            "ingestion_vs_read_parquet":
                ingestion["ingestion"]["events_per_second"] / ingestion["read_parquet"]["events_per_second"],
            "per_round": [round(baseline / loaded, 3) for baseline, loaded in
                          zip(ingestion["read_parquet"]["all_seconds"], ingestion["ingestion"]["all_seconds"])],
        }
    if "dbt_build" in selected:
        systems = ("salesforce", "netsuite") if options.dbt_with_netsuite else ("salesforce",)
        dbt = dbt_runs(data_root, context_dir, options.workdir, max(1, options.dbt_repeat),
                       options.dbt_memory_limit, systems)
        dbt["events_per_second"] = options.events / dbt["seconds"]
        stages["dbt_build"] = dbt
    if "reverse_etl" in selected:
        stages["reverse_etl"] = reverse_etl_run(options.workdir, options.sync_records)
    order = ("read_parquet", "ingestion", "dbt_build", "reverse_etl")
    results["stages"] = {name: stages[name] for name in sorted(stages, key=lambda name: (
        order.index(name) if name in order else len(order), name))}

    results_file.write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (HERE / "results.md").write_text(table)
    print(table)
    dbt = stages.get("dbt_build") if "dbt_build" in selected else None
    if dbt and not dbt["success"]:
        raise SystemExit(f"bench: dbt build failed; its work folder is kept, log in {dbt['log']}")
    sync = stages.get("reverse_etl") if "reverse_etl" in selected else None
    if sync and not sync["success"]:
        raise SystemExit(f"bench: the reverse-ETL stage failed ({sync['error']}); see its message above")
    shutil.rmtree(options.workdir, ignore_errors=True)
    if dbt and (dbt["outcome"].get("billed") or 0) < BILLED_SHARE_EXPECTED * options.events:
        raise SystemExit(f"bench: only {dbt['outcome'].get('billed') or 0:,} of {options.events:,} events "
                         "were billed; see the outcome line above")

if __name__ == "__main__":
    main()
