"""The measured stages. Each runs in its own process (``python -m bench.stages STAGE ...``) so
that its wall time and peak memory are its own; the parent reads both back (the last line of
standard output is the stage's JSON result; progress goes to standard error)."""
from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

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


def ingestion(data_root: str, database: str, delivered_through: str = "") -> dict:
    """The production usage source through a dlt pipeline into a DuckDB warehouse; with
    ``delivered_through`` (YYYY-MM-DD) only the deliveries up to that day, as a partition run
    loads them. ``rows`` is what the raw table holds afterwards, ``loaded`` what this run added."""
    from datetime import date

    import duckdb

    from ingestion.pipelines import raw_pipeline
    from ingestion.usage import usage_source

    pipeline = raw_pipeline("usage", database)
    before = _scalar_of(database, "select count(*) from raw_usage.usage_events") or 0
    started = time.perf_counter()
    pipeline.run(usage_source(root=data_root, delivered_through=date.fromisoformat(delivered_through)
                              if delivered_through else None))
    seconds = time.perf_counter() - started
    trace = pipeline.last_trace
    steps = {step.step: (step.finished_at - step.started_at).total_seconds() for step in trace.steps}
    with duckdb.connect(database, read_only=True) as con:
        rows = con.execute("select count(*) from raw_usage.usage_events").fetchone()[0]
    return {"seconds": seconds, "rows": rows, "loaded": rows - before, "steps": steps}


def _scalar_of(database: str, sql: str):
    """One value from a warehouse file that may not exist yet (None then, or when the table is missing)."""
    import duckdb

    if not Path(database).exists():
        return None
    with duckdb.connect(database, read_only=True) as con:
        return _scalar(con, sql)


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


def dbt_build(database: str, target_dir: str, as_of: str, memory_limit: str, delivered_from: str = "",
              delivered_through: str = "") -> dict:
    """``dbt build`` of the usage and billing path on the loaded warehouse, in this process.
    The project is parsed first (not measured, its time reported apart); the build reuses that
    manifest. Artifacts and logs go to ``target_dir``, never to dbt_project/target.

    ``delivered_from`` and ``delivered_through`` are the delivery window an orchestrated run
    passes (the vars the Dagster partition gives, dagster_defs/dbt_args.py): on a warehouse that
    was built before, the incremental model then takes in that window's deliveries only."""
    os.environ.update({
        "METERLEDGER_WAREHOUSE": database,
        "METERLEDGER_DUCKDB_MEMORY_LIMIT": memory_limit,
        "METERLEDGER_DBT_TARGET": "duckdb",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    })
    from dbt.cli.main import dbtRunner

    target = Path(target_dir)
    variables = {"as_of": as_of}
    if delivered_from:
        variables.update(usage_delivered_from=delivered_from, usage_delivered_through=delivered_through)
    common = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(REPO_ROOT),
              "--target-path", str(target / "target"), "--log-path", str(target / "logs"),
              "--vars", json.dumps(variables), "--no-use-colors", "--no-send-anonymous-usage-stats",
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
    # How each incremental model ran: dbt-duckdb's delete+insert goes through a temporary
    # relation (``__dbt_tmp``), a first build is a plain ``create table``.
    built_ids = {node["node"] for node in nodes}
    incremental = {}
    for unique_id, node in parsed.result.nodes.items():
        if unique_id in built_ids and node.config.materialized == "incremental":
            executed = target / "target" / "run" / node.package_name / node.original_file_path
            text = executed.read_text() if executed.exists() else ""
            incremental[node.name] = "incremental" if "__dbt_tmp" in text else "full build"
    return {
        "seconds": seconds,
        "success": bool(built.success),
        "exception": str(built.exception) if built.exception else None,
        "parse_seconds": round(parse_seconds, 2),
        "selection": " ".join(DBT_SELECTION),
        "as_of": as_of,
        "delivery_window": [delivered_from, delivered_through] if delivered_from else None,
        "duckdb_memory_limit": memory_limit,
        "nodes_by_status": by_status,
        "seconds_by_resource_type": kinds,
        "slowest_models": models[:5],
        "incremental_models": incremental,
        "model_seconds": {node["node"].split(".")[-1]: node["seconds"] for node in models},
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
            "valid": _scalar(con, "select count(*) from intermediate.int_usage_events_classified "
                                  "where disposition = 'valid'"),
            "duplicate": _scalar(con, "select count(*) from intermediate.int_usage_events_classified "
                                      "where disposition = 'duplicate'"),
            "quarantined": _scalar(con, "select count(*) from intermediate.int_usage_events_classified "
                                        "where disposition = 'quarantined'"),
            "attributed": _scalar(con, "select sum(event_count) from intermediate.int_usage_daily_attributed"),
            "billed": _scalar(con, "select count(*) from marts.fct_usage_lineage"),
            "usage_records": _scalar(con, "select count(*) from marts.fct_usage_records"),
            "usage_record_events": _scalar(con, "select sum(event_count) from marts.fct_usage_records"),
            "invoice_lines": _scalar(con, "select count(*) from marts.fct_invoice_lines"),
        }
        try:
            reasons = con.execute("select quarantine_reason, count(*) from intermediate.int_usage_events_classified "
                                  "where disposition = 'quarantined' group by all order by 2 desc").fetchall()
            outcome["quarantine_reasons"] = dict(reasons)
        except Exception:
            outcome["quarantine_reasons"] = None
    return outcome


def _baseline_connection(database: str, memory_limit: str):
    """A DuckDB connection as the dbt stage's: the same memory_limit, DuckDB's default threads
    (one per core: the profile's ``threads: 1`` is dbt running one model at a time), UTC."""
    import duckdb

    con = duckdb.connect(database, config={"memory_limit": memory_limit})
    con.execute("set TimeZone = 'UTC'")  # after connecting: the ICU extension loads on first use
    return con


def contract_tables(built_database: str, database: str) -> dict:
    """Set-up of the baseline, not measured: a new database holding the usage segments, price
    tiers and meters the dbt stage built (bench/baseline.py, CONTRACT_TABLES), and no events."""
    from bench.baseline import CONTRACT_TABLES

    started = time.perf_counter()
    with _baseline_connection(database, "1GB") as con:
        con.execute(f"attach '{built_database}' as built (read_only)")
        con.execute(CONTRACT_TABLES)
        con.execute("detach built")
        segments = con.execute("select count(*) from usage_segments").fetchone()[0]
        tiers = con.execute("select count(*) from price_tiers").fetchone()[0]
    return {"seconds": time.perf_counter() - started, "usage_segments": segments, "price_tiers": tiers}


def baseline(data_root: str, database: str, memory_limit: str) -> dict:
    """The baseline query (bench/baseline.py) over the Parquet files under ``data_root``, timed
    from the query's start to its result table written, on the database contract_tables made."""
    from bench.baseline import baseline_query

    files = sorted(str(path) for path in Path(data_root).rglob("*.parquet"))
    with _baseline_connection(database, memory_limit) as con:
        threads = con.execute("select current_setting('threads')").fetchone()[0]
        started = time.perf_counter()
        con.execute(baseline_query(files))
        seconds = time.perf_counter() - started
        segments, events = con.execute("select count(*), sum(event_count) from rated_segments").fetchone()
    return {"seconds": seconds, "rows": int(events or 0), "rated_segments": segments, "files": len(files),
            "duckdb_memory_limit": memory_limit, "duckdb_threads": threads}


def baseline_comparison(built_database: str, database: str, day: str) -> dict:
    """Not measured: the baseline's amounts against the dbt path's usage records of the billing
    periods that hold ``day``, per currency, as exact decimals (text)."""
    import duckdb

    from bench.baseline import COMPARISON

    with duckdb.connect() as con:
        con.execute(f"attach '{built_database}' as built (read_only)")
        con.execute(f"attach '{database}' as baseline (read_only)")
        cursor = con.execute(COMPARISON, [day])
        columns = [column[0] for column in cursor.description]
        return {"by_currency": [dict(zip(columns, row)) for row in cursor.fetchall()]}


# The reverse-ETL stage: usage records pushed into a private NetSuite emulator that holds each
# request ``SYNC_LATENCY`` seconds inside a gate of ``SYNC_CONCURRENCY`` slots, as the account's
# concurrency limit would. The ceiling is what that gate lets through with full batches.
SYNC_CONCURRENCY = 5
SYNC_LATENCY = 0.1
SYNC_ACCOUNT_ID = "1234567-sb1"
SYNC_PREFIX = "bench:"
SYNC_PERIOD = ("2026-08-01", "2026-08-31")  # the seed's open accounting period the records fall in
USAGE_COLUMNS = ("external_id varchar, customer_id varchar, subscription_id varchar, subscription_line_id varchar, "
                 "usage_quantity decimal(38, 9), usage_date date, memo varchar, sync_blocked_reason varchar")


def _netsuite_seed() -> dict[str, list[dict]]:
    """The least a usage record needs: its customer, subscription and usage line, and the open
    period its dates fall in (the closed one before it is there to be avoided)."""
    usd = {"id": "1"}
    return {
        "currency": [{"id": "1", "symbol": "USD", "name": "US Dollar", "currencyPrecision": 2}],
        "subsidiary": [{"id": "1", "name": "US", "currency": usd, "country": "US"}],
        "accountingperiod": [
            {"id": "100", "periodName": "Jul 2026", "startDate": "2026-07-01", "endDate": "2026-07-31",
             "closed": True, "isQuarter": False, "isYear": False},
            {"id": "101", "periodName": "Aug 2026", "startDate": SYNC_PERIOD[0], "endDate": SYNC_PERIOD[1],
             "closed": False, "isQuarter": False, "isYear": False},
        ],
        "customer": [{"id": "1", "entityId": "C0001", "companyName": "Bench customer", "externalId": "C0001",
                      "subsidiary": {"id": "1"}, "currency": usd}],
        "item": [{"id": "200", "itemId": "api_calls", "displayName": "API calls", "itemType": "Service",
                  "externalId": "api_calls"}],
        "priceplan": [{"id": "300", "externalId": "PP-unit", "currency": usd, "priceModelType": "unit",
                       "priceTiers": {"items": [{"fromVal": 0, "toVal": None, "price": "0.0125"}]}}],
        "subscription": [{"id": "400", "externalId": "K0001", "customer": {"id": "1"}, "subsidiary": {"id": "1"},
                          "currency": usd, "startDate": "2026-01-01", "billingFrequency": "MONTHLY",
                          "status": "ACTIVE"}],
        "subscriptionline": [{"id": "500", "externalId": "K0001-api", "subscription": {"id": "400"},
                              "item": {"id": "200"}, "lineNumber": 1, "subscriptionLineType": "Usage",
                              "status": "ACTIVE", "pricePlan": {"id": "300"}}],
    }


def _sync_warehouse(database: str, records: int):
    """The sync model as dbt would leave it: ``records`` usage records with unique external IDs,
    exact nine-decimal quantities and dates spread over the open period."""
    import duckdb

    connection = duckdb.connect(database)
    connection.execute("create schema reverse_etl_sync")
    connection.execute(f"create table reverse_etl_sync.sync_netsuite__usage_records ({USAGE_COLUMNS})")
    connection.execute(f"""
        insert into reverse_etl_sync.sync_netsuite__usage_records
        select
            '{SYNC_PREFIX}usage:' || lpad(i::varchar, 8, '0'),
            '1', '400', '500',
            (hash(i) % 10000000)::decimal(38, 9) / 1000 + (i % 1000)::decimal(38, 9) / 1000000000,
            date '{SYNC_PERIOD[0]}' + (i % 31)::integer,
            'bench usage record ' || i,
            null
        from range({records}) as r(i)
    """)
    return connection


def _serve_netsuite(pipe, work_dir: str, keys: dict[str, str]) -> None:
    """The emulator's own process (the account is remote: its CPU is not the client's). Sends
    its base URL and CA bundle, serves until told to stop."""
    from emulators.common.server import EmulatorServer
    from emulators.common.tls import create_run_certificates
    from emulators.netsuite import NetSuiteApp

    # The account is remote: a request's slot should hold its latency, not waits for this
    # process's GIL behind the thread running async jobs (Python hands the GIL over every 5 ms
    # by default; every 0.5 ms here).
    sys.setswitchinterval(0.0005)
    work = Path(work_dir)
    app = NetSuiteApp(SYNC_ACCOUNT_ID, **keys, concurrency_limit=SYNC_CONCURRENCY, latency=SYNC_LATENCY,
                      async_delay=0.0, seed_file=work / "netsuite-seed.json")
    certificates = create_run_certificates(work / "tls")
    server = EmulatorServer(app, certificates).start()
    try:
        pipe.send((server.base_url, str(certificates.ca_bundle)))
        pipe.recv()  # stop
    finally:
        server.stop()


@contextmanager
def private_netsuite(work: Path, seed: dict[str, list[dict]]) -> Iterator[tuple[Any, str]]:
    """A NetSuite emulator seeded with ``seed`` in a process of its own (the account is remote:
    its CPU is not the client's), and a connection to it with its base URL; stopped on exit."""
    import multiprocessing
    import secrets

    from emulators.common.http import dumps
    from meterledger.connections.netsuite import NetSuiteConnection, NetSuiteCredentials

    work.mkdir(parents=True, exist_ok=True)
    (work / "netsuite-seed.json").write_bytes(dumps(seed))
    keys = {name: secrets.token_hex(32) for name in ("consumer_key", "consumer_secret", "token_id", "token_secret")}
    pipe, child_pipe = multiprocessing.Pipe()
    emulator = multiprocessing.get_context("spawn").Process(
        target=_serve_netsuite, args=(child_pipe, str(work), keys), name="netsuite-emulator", daemon=True)
    emulator.start()
    try:
        if not pipe.poll(60):
            raise SystemExit("bench: the NetSuite emulator did not start within 60 s")
        base_url, ca_bundle = pipe.recv()
        yield NetSuiteConnection(base_url, NetSuiteCredentials(SYNC_ACCOUNT_ID, **keys), ca_bundle=ca_bundle), base_url
    finally:
        pipe.send("stop")
        emulator.join(30)
        if emulator.is_alive():
            emulator.kill()


def reverse_etl(work_dir: str, records: str) -> dict:
    """The NetSuite usage-record sync (plan, send, confirm by read-back, ledger) of ``records``
    records, timed as a whole, against a private emulator in a process of its own; then a
    SuiteQL count checks that NetSuite holds every record exactly once. The emulator's request
    log gives the requests it answered (429 refusals included) during the sync."""
    from reverse_etl.engine import run_sync
    from reverse_etl.mapping import load_mapping
    from reverse_etl.netsuite import BATCH_SIZE, NetSuiteDestination

    expected = int(records)
    work = Path(work_dir)
    with private_netsuite(work, _netsuite_seed()) as (connection, base_url):
        warehouse = _sync_warehouse(str(work / "warehouse.duckdb"), expected)
        destination = NetSuiteDestination(connection, concurrency=SYNC_CONCURRENCY)
        mapping = load_mapping("netsuite").objects["usage_records"]
        marks: dict[str, float] = {}
        send = destination.send

        def timed_send(*arguments, **options):  # when planning ends and when sending ends
            marks["send_started"] = time.perf_counter()
            try:
                return send(*arguments, **options)
            finally:
                marks["send_finished"] = time.perf_counter()

        destination.send = timed_send
        confirm = getattr(destination, "_confirm", None)
        if confirm is not None:  # what the read-backs between batches left to confirm at the end
            def timed_confirm(*arguments, **options):
                marks["confirm_started"] = time.perf_counter()
                return confirm(*arguments, **options)

            destination._confirm = timed_confirm
        started = time.perf_counter()
        result = run_sync(warehouse, destination, "usage_records", mapping)
        seconds = time.perf_counter() - started
        log = connection.session.get(f"{base_url}/_emulator/requests", timeout=30).json()["requests"]
        held = list(connection.suiteql(f"SELECT count(*) AS n FROM usage WHERE externalid LIKE '{SYNC_PREFIX}%'"))
        warehouse.close()
    held_count = int(held[0]["n"])
    if held_count != expected or result.succeeded != expected:
        raise SystemExit(f"bench reverse_etl: NetSuite holds {held_count:,} bench usage records and the sync "
                         f"confirmed {result.succeeded:,}, expected {expected:,} (failed {result.failed:,}, "
                         f"retry {result.retry:,}, status {result.status}; {result.errors[:3]})")
    by_kind: dict[str, int] = {}
    for entry in log:
        kind = ("refused (429)" if entry["status"] == 429 else "batch PUT" if entry["method"] == "PUT"
                else "SuiteQL" if entry["path"].endswith("/suiteql")
                else "job poll" if "/job/" in entry["path"] else f"other {entry['method']}")
        by_kind[kind] = by_kind.get(kind, 0) + 1
    ceiling = SYNC_CONCURRENCY * BATCH_SIZE / SYNC_LATENCY
    return {
        "seconds": seconds,
        "rows": expected,
        "records_per_second": expected / seconds,
        "ceiling_records_per_second": ceiling,
        "ratio_to_ceiling": expected / seconds / ceiling,
        "requests": len(log),
        "requests_per_second": len(log) / seconds,
        "requests_by_kind": dict(sorted(by_kind.items())),
        "phases_seconds": {
            "plan": round(marks["send_started"] - started, 3),
            **({"send_and_read_back": round(marks["confirm_started"] - marks["send_started"], 3),
                "final_confirm": round(marks["send_finished"] - marks["confirm_started"], 3)}
               if "confirm_started" in marks else
               {"send_and_confirm": round(marks["send_finished"] - marks["send_started"], 3)}),
            "record_outcomes": round(started + seconds - marks["send_finished"], 3)},
        "held_in_netsuite": held_count,
        "sync": {"succeeded": result.succeeded, "failed": result.failed, "retry": result.retry,
                 "status": result.status},
        "concurrency": SYNC_CONCURRENCY, "latency_seconds": SYNC_LATENCY, "batch_size": BATCH_SIZE,
    }

def no_new_events(work_dir: str) -> dict:
    from bench.idle import no_new_events as run

    return run(Path(work_dir))


def recovery(work_dir: str, entries: str) -> dict:
    from bench.recovery import recovery as run

    return run(work_dir, entries)


STAGES = {"recovery": recovery, "read_parquet": read_parquet, "ingestion": ingestion, "crm_erp": crm_erp, "dbt_build": dbt_build,
          "usage_outcome": usage_outcome, "contract_tables": contract_tables, "baseline": baseline,
          "baseline_comparison": baseline_comparison, "no_new_events": no_new_events, "reverse_etl": reverse_etl}

if __name__ == "__main__":
    stage, *arguments = sys.argv[1:]
    print(json.dumps(STAGES[stage](*arguments)))
