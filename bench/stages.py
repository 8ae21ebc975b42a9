"""The measured stages. Each runs in its own process (``python -m bench.stages STAGE ...``) so
that its wall time and peak memory are its own; the parent reads both back (the last line of
standard output is the stage's JSON result; progress goes to standard error)."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
# The usage and billing path: everything the three billing marts are built from, with the tests.
DBT_SELECTION = ("+fct_usage_records", "+fct_invoice_lines", "+fct_usage_lineage")


def read_parquet(data_root: str, database: str) -> dict:
    """DuckDB loading the same files into a table of its own: the ceiling for any loader."""
    import duckdb

    from ingestion.pipelines import duckdb_settings

    # The same settings the warehouse loads with, so both sides insert and spill alike.
    with duckdb.connect(database, config=duckdb_settings()) as con:
        started = time.perf_counter()
        con.execute(f"create table events as select * from read_parquet('{data_root}/**/*.parquet')")
        seconds = time.perf_counter() - started
        rows = con.execute("select count(*) from events").fetchone()[0]
        return {"seconds": seconds, "rows": rows}


def ingestion(data_root: str, database: str) -> dict:
    """The production usage source through a dlt pipeline into a DuckDB warehouse."""
    import duckdb

    from ingestion.pipelines import raw_pipeline
    from ingestion.usage import usage_source

    pipeline = raw_pipeline("usage", database)
    started = time.perf_counter()
    pipeline.run(usage_source(root=data_root))
    seconds = time.perf_counter() - started
    trace = pipeline.last_trace
    steps = {step.step: (step.finished_at - step.started_at).total_seconds() for step in trace.steps}
    with duckdb.connect(database, read_only=True) as con:
        rows = con.execute("select count(*) from raw_usage.usage_events").fetchone()[0]
    return {"seconds": seconds, "rows": rows, "steps": steps}


def crm_erp(seed_dir: str, database: str, state_dir: str, systems: str = "salesforce,netsuite") -> dict:
    """Set-up of the dbt stage, not measured: the emulators on the generator's seeds, and the
    production dlt sources of ``systems`` (comma-separated) loading them into the warehouse."""
    from emulators.runner import EmulatorStack
    from ingestion.netsuite import netsuite_source
    from ingestion.pipelines import raw_pipeline
    from ingestion.salesforce import salesforce_source
    from meterledger.connections.netsuite import netsuite_connection_from
    from meterledger.connections.salesforce import salesforce_connection_from

    started = time.perf_counter()
    stack = EmulatorStack(state_dir=Path(state_dir), seed_dir=Path(seed_dir)).start()
    try:
        settings = stack.environment()  # loopback URLs, run credentials and the run's CA bundle
        salesforce = salesforce_connection_from(settings)
        netsuite = netsuite_connection_from(settings)
        sources = {"salesforce": lambda: salesforce_source(connect=lambda: salesforce),
                   "netsuite": lambda: netsuite_source(connect=lambda: netsuite)}
        seconds = {}
        for system in systems.split(","):
            source = sources[system]
            system_started = time.perf_counter()
            pipeline = raw_pipeline(system, database)
            pipeline.run(source()).raise_on_failed_jobs()
            seconds[system] = round(time.perf_counter() - system_started, 2)
            print(f"  dbt set-up: {system} loaded in {seconds[system]:.1f} s", file=sys.stderr, flush=True)
    finally:
        stack.stop(save=False)
    return {"seconds": time.perf_counter() - started, "systems": seconds}


def _scalar(con, sql: str):
    try:
        return con.execute(sql).fetchone()[0]
    except Exception:  # a model the build did not produce: reported as missing
        return None


def dbt_build(database: str, target_dir: str, as_of: str, memory_limit: str) -> dict:
    """``dbt build`` of the usage and billing path on the loaded warehouse, in this process.
    The project is parsed first (not measured, its time reported apart); the build reuses that
    manifest. Artifacts and logs go to ``target_dir``, never to dbt_project/target."""
    os.environ.update({
        "METERLEDGER_WAREHOUSE": database,
        "METERLEDGER_DUCKDB_MEMORY_LIMIT": memory_limit,
        "METERLEDGER_DBT_TARGET": "duckdb",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    })
    from dbt.cli.main import dbtRunner

    target = Path(target_dir)
    common = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(REPO_ROOT),
              "--target-path", str(target / "target"), "--log-path", str(target / "logs"),
              "--vars", json.dumps({"as_of": as_of}), "--no-use-colors", "--no-send-anonymous-usage-stats",
              "--log-level", "none", "--log-level-file", "info"]
    # Tests run when all their parents are selected: the default (eager) would also pick tests that
    # join marts outside the selection (fct_quarantined_usage_events, fct_usage_monthly) and fail.
    selection = ["--select", *DBT_SELECTION, "--indirect-selection", "cautious"]
    started = time.perf_counter()
    parsed = dbtRunner().invoke(["parse", *common])
    if not parsed.success:
        raise SystemExit(f"dbt parse failed: {parsed.exception} (log in {target / 'logs'})")
    parse_seconds = time.perf_counter() - started
    print(f"  dbt parse: {parse_seconds:.1f} s; dbt build --select {' '.join(DBT_SELECTION)}",
          file=sys.stderr, flush=True)

    started = time.perf_counter()
    built = dbtRunner(manifest=parsed.result).invoke(["build", *selection, *common])
    seconds = time.perf_counter() - started

    run_results = json.loads((target / "target" / "run_results.json").read_text())
    nodes = [{"node": result["unique_id"], "status": result["status"],
              "seconds": round(result["execution_time"], 3)} for result in run_results["results"]]
    models = sorted((node for node in nodes if node["node"].startswith("model.")),
                    key=lambda node: node["seconds"], reverse=True)
    by_status: dict[str, int] = {}
    for node in nodes:
        by_status[node["status"]] = by_status.get(node["status"], 0) + 1
    kinds: dict[str, float] = {}
    for node in nodes:
        kind = node["node"].split(".")[0]
        kinds[kind] = round(kinds.get(kind, 0.0) + node["seconds"], 3)
    problems = [node for node in nodes if node["status"] not in ("success", "pass")]
    return {
        "seconds": seconds,
        "success": bool(built.success),
        "exception": str(built.exception) if built.exception else None,
        "parse_seconds": round(parse_seconds, 2),
        "selection": " ".join(DBT_SELECTION),
        "as_of": as_of,
        "duckdb_memory_limit": memory_limit,
        "nodes_by_status": by_status,
        "seconds_by_resource_type": kinds,
        "slowest_models": models[:5],
        "problems": problems[:20],
        "log": str(target / "logs" / "dbt.log"),
    }


def usage_outcome(database: str) -> dict:
    """What became of the event rows: valid or not, attributed to a usage line, billed. A stage of
    its own: dbt-duckdb keeps the build's connection open until its process ends."""
    import duckdb

    with duckdb.connect(database, read_only=True) as con:
        outcome = {
            "rows": _scalar(con, "select count(*) from raw_usage.usage_events"),
            "valid": _scalar(con, "select count(*) from staging.stg_usage__delivered_events "
                                  "where disposition = 'valid'"),
            "duplicate": _scalar(con, "select count(*) from staging.stg_usage__delivered_events "
                                      "where disposition = 'duplicate'"),
            "quarantined": _scalar(con, "select count(*) from staging.stg_usage__delivered_events "
                                        "where disposition = 'quarantined'"),
            "attributed": _scalar(con, "select count(*) from intermediate.int_usage_events_attributed "
                                       "where contract_line_id is not null"),
            "billed": _scalar(con, "select count(*) from marts.fct_usage_lineage"),
            "usage_records": _scalar(con, "select count(*) from marts.fct_usage_records"),
            "usage_record_events": _scalar(con, "select sum(event_count) from marts.fct_usage_records"),
            "invoice_lines": _scalar(con, "select count(*) from marts.fct_invoice_lines"),
        }
        try:
            reasons = con.execute("select quarantine_reason, count(*) from staging.stg_usage__delivered_events "
                                  "where disposition = 'quarantined' group by all order by 2 desc").fetchall()
            outcome["quarantine_reasons"] = dict(reasons)
        except Exception:
            outcome["quarantine_reasons"] = None
    return outcome


STAGES = {"read_parquet": read_parquet, "ingestion": ingestion, "crm_erp": crm_erp, "dbt_build": dbt_build,
          "usage_outcome": usage_outcome}

if __name__ == "__main__":
    stage, *arguments = sys.argv[1:]
    print(json.dumps(STAGES[stage](*arguments)))
