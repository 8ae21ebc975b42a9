"""What `make bench` prints and writes to bench/results.md: one table of the measured stages,
the lines that say what each measured, and the ratio block with each target marked met or NOT
met from the figures of this run (a ratio whose two stages come from different runs, after
``--only``, says so)."""
from __future__ import annotations

from decimal import Decimal

# The targets of issue 10 (README, "Benchmark").
INGESTION_TARGET = 0.5  # ingestion throughput / read_parquet throughput, at least
BASELINE_TARGET = 3.0  # dbt build / baseline query, at most
DAY_N_TARGET = 1.3  # day-N incremental build / day-1 build, at most
MEMORY_CEILING_MIB = 4096  # every measured stage's peak, below
IDLE_TARGET_SECONDS = 30.0  # a daily run without new events, at most
SYNC_TARGET = 0.8  # reverse ETL / the concurrency limit's ceiling, at least
SCALE_TOLERANCE = 0.3  # events/s at the scale size within ±30 % of the day-1 size's
RECOVERY_TARGET_SECONDS = 5.0  # issue 21: a 10,000-record rerun's read-back "within a few seconds"

STAGE_LABELS = {
    "read_parquet": "DuckDB read_parquet",
    "ingestion": "dlt usage ingestion",
    "dbt_build": "dbt build, day 1 (empty history)",
    "baseline": "baseline query (one DuckDB SQL)",
    "day_n": "dbt build, day N (incremental on history)",
    "no_new_events": "daily run, no new events (Dagster + dbt)",
    "reverse_etl": "reverse ETL (NetSuite usage records)",
    "recovery": "rerun after a killed sync (journal entries)",
    "scale": "dbt build, day 1 at the scale size",
}
STAGE_ORDER = tuple(STAGE_LABELS)


def _throughput(stage: dict) -> str:
    if "records_per_second" in stage:
        return f"{stage['records_per_second']:,.0f} records"
    if "events_per_second" in stage:
        return f"{stage['events_per_second']:,.0f} events"
    return ""


def _check(met: bool) -> str:
    return "met" if met else "**NOT met**"


def ratios(results: dict) -> list[dict]:
    """Each target's ratio from the stages present; ``None`` where a stage did not run."""
    stages = results.get("stages", {})

    def pair(numerator: str, denominator: str):
        first, second = stages.get(numerator), stages.get(denominator)
        if not first or not second or "seconds" not in first or "seconds" not in second:
            return None, False
        return first, first.get("run_at") != second.get("run_at")

    rows = []
    dbt, mixed = pair("dbt_build", "baseline")
    value = dbt and dbt["seconds"] / stages["baseline"]["seconds"]
    rows.append({"name": "dbt build (usage and billing path) / baseline query", "value": value,
                 "target": f"≤ {BASELINE_TARGET:g}", "met": value is not None and value <= BASELINE_TARGET,
                 "mixed": mixed})
    loaded, mixed = pair("ingestion", "read_parquet")
    value = loaded and loaded["events_per_second"] / stages["read_parquet"]["events_per_second"]
    rows.append({"name": "ingestion / read_parquet throughput", "value": value,
                 "target": f"≥ {INGESTION_TARGET:g}", "met": value is not None and value >= INGESTION_TARGET,
                 "mixed": mixed})
    day_n, mixed = pair("day_n", "dbt_build")
    value = day_n and day_n["seconds"] / stages["dbt_build"]["seconds"]
    history = (day_n or {}).get("history") or {}
    rows.append({"name": "day-N / day-1 dbt build" + (
                     f" ({history['days']} days of history, {history['events']:,} events)" if history else ""),
                 "value": value, "target": f"≤ {DAY_N_TARGET:g}",
                 "met": value is not None and value <= DAY_N_TARGET, "mixed": mixed})
    measured = {name: stage["peak_memory_mib"] for name, stage in stages.items() if "peak_memory_mib" in stage}
    if measured:
        worst = max(measured, key=measured.get)
        rows.append({"name": f"max stage peak memory, MiB ({worst})", "value": measured[worst],
                     "target": f"< {MEMORY_CEILING_MIB:,}", "met": measured[worst] < MEMORY_CEILING_MIB,
                     "mixed": len({stage.get("run_at") for stage in stages.values()}) > 1, "format": ",.0f"})
    idle = stages.get("no_new_events")
    value = idle and idle.get("seconds")
    rows.append({"name": "daily run with no new events, s", "value": value, "target": f"≤ {IDLE_TARGET_SECONDS:g}",
                 "met": value is not None and value <= IDLE_TARGET_SECONDS, "mixed": False, "format": ".1f"})
    sync = stages.get("reverse_etl")
    value = sync and sync.get("ratio_to_ceiling")
    rows.append({"name": "reverse ETL / concurrency ceiling", "value": value, "target": f"≥ {SYNC_TARGET:g}",
                 "met": value is not None and value >= SYNC_TARGET, "mixed": False})
    recovery = stages.get("recovery")
    value = recovery and recovery.get("read_back_seconds")
    rows.append({"name": "read-back of a killed sync's records, s" + (
                     f" ({recovery['rows']:,} journal entries, {recovery['read_back_queries']} queries, "
                     f"at most {recovery['query_bound']})" if recovery else ""),
                 "value": value, "target": f"≤ {RECOVERY_TARGET_SECONDS:g}",
                 "met": value is not None and value <= RECOVERY_TARGET_SECONDS
                 and recovery["read_back_queries"] <= recovery["query_bound"], "mixed": False, "format": ".2f"})
    scale, mixed = pair("scale", "dbt_build")
    value = scale and scale["events_per_second"] / stages["dbt_build"]["events_per_second"]
    rows.append({"name": "events/s at the scale size / at the day-1 size" + (
                     f" ({scale['events']:,} vs {stages['dbt_build']['events']:,} events)" if scale else ""),
                 "value": value, "target": f"{1 - SCALE_TOLERANCE:g} to {1 + SCALE_TOLERANCE:g}",
                 "met": value is not None and abs(value - 1) <= SCALE_TOLERANCE, "mixed": mixed})
    return rows


def ratio_block(results: dict) -> list[str]:
    lines = ["| ratio | value | target | |", "|---|---:|---|---|"]
    for row in ratios(results):
        if row["value"] is None:
            lines.append(f"| {row['name']} | not run | {row['target']} | |")
            continue
        shown = format(row["value"], row.get("format", ".2f"))
        note = " (stages from different runs)" if row["mixed"] else ""
        lines.append(f"| {row['name']} | {shown} | {row['target']} | {_check(row['met'])}{note} |")
    return lines


def markdown(results: dict) -> str:
    stages = results["stages"]
    rows = ["| stage | wall time (s), median | all runs (s) | throughput (/s) | peak memory (MiB) |",
            "|---|---:|---|---:|---:|"]
    for name in sorted(stages, key=lambda name: STAGE_ORDER.index(name) if name in STAGE_ORDER else 99):
        stage = stages[name]
        label = STAGE_LABELS.get(name, name)
        if stage.get("success") is False and "seconds" not in stage:
            rows.append(f"| {label} | FAILED | | | |")
            continue
        runs = ", ".join(f"{seconds:.2f}" for seconds in stage.get("all_seconds", [stage["seconds"]]))
        rows.append(f"| {label} | {stage['seconds']:.2f} | {runs} | {_throughput(stage)} | "
                    f"{stage['peak_memory_mib']:,.0f} |")
    rows += ["", *ratio_block(results), ""]
    rows += details(results)
    return "\n".join(rows) + "\n"


def details(results: dict) -> list[str]:
    stages, lines = results["stages"], []
    workload = results.get("workload")
    if workload:
        lines.append(f"Workload: {workload['events']:,} events on {workload['day']}, {workload['customers']:,} "
                     f"customers, {workload['usage_lines']:,} usage lines ({workload['meters']} meters) of the "
                     f"demo generator's {results['context']['contracts']:,} contracts, {workload['files']} Parquet "
                     f"files, {workload['bytes'] / 2**20:,.0f} MiB; {results['machine']['cpus']} CPUs.")
    if "ingestion" in stages and "per_round" in results.get("ingestion_rounds", {}):
        lines.append("Ingestion / read_parquet round by round: "
                     + ", ".join(f"{value:.2f}" for value in results["ingestion_rounds"]["per_round"])
                     + "; dlt steps (s): " + ", ".join(f"{step} {seconds:.2f}" for step, seconds
                                                       in stages["ingestion"].get("steps", {}).items()) + ".")
    for name in ("dbt_build", "day_n", "scale"):
        if name in stages and "nodes_by_status" in stages[name]:
            lines += dbt_lines(STAGE_LABELS[name], stages[name])
    if "day_n" in stages and "history" in stages["day_n"]:
        lines.append(history_line(stages["day_n"]))
        if projection(results):
            lines.append(projection(results))
    setup = results.get("dbt_setup")
    if setup and any(name in stages for name in ("dbt_build", "day_n", "scale")):
        lines.append(f"dbt set-up, shared and not measured: the generator's "
                     + " and ".join(f"{system} ({seconds:.1f} s)" for system, seconds in setup["systems"].items())
                     + f" loaded once through the emulator and the production dlt source, peak "
                     f"{setup['peak_memory_mib']:,.0f} MiB (dlt's `insert_values` load of the whole CRM: an "
                     "initial load, not a daily stage), then copied for each build.")
    if "baseline" in stages:
        lines.append(baseline_line(stages["baseline"]))
    if "no_new_events" in stages:
        lines.append(idle_line(stages["no_new_events"]))
    if "reverse_etl" in stages:
        lines.append(reverse_etl_line(stages["reverse_etl"]))
    if "recovery" in stages:
        lines.append(recovery_line(stages["recovery"]))
    return lines


def recovery_line(run: dict) -> str:
    if not run.get("success", True):
        return f"Rerun after a killed sync: **FAILED** for {run['rows']:,} journal entries: {run['error']}."
    return (f"Rerun after a killed sync (`run_sync` on {run['rows']:,} journal entries all left `sending`, all "
            f"applied in NetSuite; the emulator at {run['latency_seconds'] * 1000:.0f} ms latency, "
            f"{run['concurrency']} requests at a time): read-back **{run['read_back_seconds']:.2f} s** in "
            f"{run['read_back_queries']} SuiteQL queries (each joining 100 entries to their lines; bound "
            f"{run['query_bound']}), the whole rerun {run['seconds']:.2f} s and {run['requests']} requests, none "
            f"a write; the entries were pushed first in {run['push_seconds']:.1f} s at no added latency.")


def dbt_lines(label: str, dbt: dict) -> list[str]:
    window = dbt.get("delivery_window")
    lines = [f"{label} (`{dbt['selection']}`, as_of {dbt['as_of']}"
             + (f", delivery window {window[0]}..{window[1]}" if window else "")
             + f", DuckDB memory_limit {dbt['duckdb_memory_limit']}): **{dbt['seconds']:.1f} s**, "
             f"{dbt['events_per_second']:,.0f} events/s of {dbt['events']:,}, peak {dbt['peak_memory_mib']:,.0f} MiB; "
             f"{'succeeded' if dbt['success'] else 'FAILED'}; nodes: "
             + ", ".join(f"{count} {status}" for status, count in dbt["nodes_by_status"].items())
             + "; time by kind (s): "
             + ", ".join(f"{kind} {seconds:.1f}" for kind, seconds in dbt["seconds_by_resource_type"].items())
             + f"; parse (not measured) {dbt['parse_seconds']:.1f} s. Slowest models (s): "
             + ", ".join(f"{node['node'].split('.')[-1]} {node['seconds']:.1f}" for node in dbt["slowest_models"])
             + "; incremental models ran as: "
             + (", ".join(f"{model} {how}" for model, how in dbt.get("incremental_models", {}).items()) or "none")
             + "."]
    if dbt.get("outcome"):
        lines.append("  " + outcome_line(dbt["outcome"]))
    setup = dbt.get("setup")
    if setup:
        lines.append(f"  Set-up (not measured): usage ingestion {setup['usage_seconds']:.1f} s, the Salesforce "
                     f"warehouse copied from the shared set-up.")
    for problem in dbt.get("problems", []):
        lines.append(f"  - {problem['node']}: {problem['status']}")
    return lines


def projection(results: dict) -> str:
    """What the measured day-N cost per history event comes to at the issue's history (90 days
    at the measured day's rate), if it stays linear: a projection, labelled as one."""
    stages = results["stages"]
    day_n, day_one = stages.get("day_n"), stages.get("dbt_build")
    if not day_n or not day_one or not day_n.get("history", {}).get("events") \
            or day_n.get("run_at") != day_one.get("run_at"):
        return ""
    history = day_n["history"]
    per_event = (day_n["seconds"] - day_one["seconds"]) / history["events"]
    full_history = history["days"] * day_n["events"]
    if per_event <= 0:
        return (f"The day-N build was not slower than day 1 on {history['events']:,} history events (the "
                "difference is within the run-to-run noise): no projection to a longer history.")
    projected = day_one["seconds"] + per_event * full_history
    return (f"Each history event added {per_event * 1e6:,.1f} µs to the day-N build (day N {day_n['seconds']:.1f} s "
            f"- day 1 {day_one['seconds']:.1f} s over {history['events']:,} history events): only "
            f"`int_usage_events_classified` is incremental, the models after it are rebuilt over the whole "
            f"history. Projected linearly to the issue's {history['days']} days at {day_n['events']:,} a day "
            f"({full_history:,} events): ≈ {projected:,.0f} s, {projected / day_one['seconds']:.0f} × day 1 "
            f"(a projection, not a measurement).")


def history_line(day_n: dict) -> str:
    history, build = day_n["history"], day_n.get("history_build", {})
    return (f"Day-N history (set-up, not measured): {history['days']} delivery days {history['first_day']} to "
            f"{history['last_day']}, {history['events_per_day']:,} events a day ({history['events']:,} in all), "
            f"ingested in {day_n['setup']['history_ingestion_seconds']:.1f} s and built by the same dbt build "
            f"(delivery window {history['first_day']}..{history['last_day']}) in {build.get('seconds', 0):.1f} s "
            f"(peak {build.get('peak_memory_mib', 0):,.0f} MiB); then the day's events ingested on top in "
            f"{day_n['setup']['usage_seconds']:.1f} s and built incrementally (measured above).")


def baseline_line(baseline: dict) -> str:
    line = (f"Baseline: one DuckDB query over the {baseline['files']} Parquet files (dedup by `GROUP BY event_id` "
            f"with `any_value`, attribution to usage segments, aggregation per meter, tier join; DuckDB "
            f"memory_limit {baseline['duckdb_memory_limit']}, {baseline['duckdb_threads']} threads): "
            f"**{baseline['seconds']:.1f} s**, {baseline['rated_segments']:,} rated segments.")
    comparison = baseline.get("comparison")
    if comparison:
        parts = [f"{row['currency_code']} baseline {_money(row['baseline_total'])} vs dbt "
                 f"{_money(row['dbt_total_with_events'])} ({row['equal_to_the_cent']:,} of "
                 f"{row['dbt_records_with_events']:,} records equal to the cent; all {row['dbt_records']:,} "
                 f"records of those periods: {_money(row['dbt_total'])})"
                 for row in comparison["by_currency"]]
        line += (" Amounts of the billing periods holding the day, records with events: " + "; ".join(parts)
                 + ". The baseline does not rate segments without events (a graduated or volume line's first "
                   "tier fee on an earlier segment of the period), so those records differ.")
    return line


def _money(text: str) -> str:
    """An exact decimal (text) without the trailing zeros of its nine places."""
    return f"{Decimal(text).normalize():,f}"


def idle_line(idle: dict) -> str:
    steps = idle.get("steps_seconds", {})
    slow = sorted(((f"{job}/{step}", seconds) for job, job_steps in steps.items()
                   for step, seconds in job_steps.items()), key=lambda item: -item[1])[:6]
    return (f"No new events ({idle['quiet_day']}, a warehouse of {idle['events_in_warehouse']:,} events, demo "
            f"generator with {idle['demo']['customers']} customers, emulators running): usage_delivery run "
            f"{idle['delivery_run_seconds']:.1f} s + daily_billing run {idle['daily_build_seconds']:.1f} s = "
            f"**{idle['seconds']:.1f} s**; slowest steps (s): "
            + ", ".join(f"{step} {seconds:.1f}" for step, seconds in slow)
            + f"; set-up (backfill and first daily build, not measured) {idle['setup_seconds']:.0f} s.")


def reverse_etl_line(sync: dict) -> str:
    if not sync.get("success", True):
        return (f"Reverse ETL (NetSuite usage records): **FAILED** for {sync['rows']:,} records: {sync['error']} "
                f"(the stage's message is in the bench output; work folder {sync['work_dir']}).")
    phases = sync["phases_seconds"]
    return (f"Reverse ETL (`run_sync`: plan, batch upserts, read-back, ledger), {sync['rows']:,} records against "
            f"the emulator at {sync['latency_seconds'] * 1000:.0f} ms latency and a concurrency limit of "
            f"{sync['concurrency']}: **{sync['records_per_second']:,.0f} records/s** in {sync['seconds']:.2f} s; "
            f"ceiling {sync['concurrency']} x {sync['batch_size']} / {sync['latency_seconds']:g} s = "
            f"{sync['ceiling_records_per_second']:,.0f} records/s; ratio **{sync['ratio_to_ceiling']:.3f}**; "
            f"{sync['requests']:,} requests seen by the emulator ("
            + ", ".join(f"{kind} {count:,}" for kind, count in sync["requests_by_kind"].items())
            + "); phases (s): "
            + ", ".join(f"{name.replace('_', ' ')} {seconds:.2f}" for name, seconds in phases.items())
            + f"; NetSuite holds {sync['held_in_netsuite']:,} of {sync['rows']:,}.")


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
