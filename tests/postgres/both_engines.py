"""One scenario fixture through both warehouses: the same seed and usage files, loaded by the
project's dlt sources into a DuckDB file and into a PostgreSQL database (``METERLEDGER_DESTINATION``),
then the same ``dbt build`` on each (profiles.yml targets ``duckdb`` and ``postgres``), and every
model's relation compared row for row.

Runs in a worker process (``build_and_compare``), so the environment each step reads is this
process's own. dbt runs in the worker, as ``meterledger simulate`` runs it: the project is parsed
once per target and worker with fixed parse-time vars, and each command gets the parsed project
(``dbtRunner(manifest=...)``) and compiles its models with the scenario's own vars. A dbt process
per command would parse the project again each time (two builds a scenario, ~10 s each here).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# dlt's lineage of a load: the ID of the load that brought a row differs between two loads of
# the same files by nature (a daily rollup keeps its latest reading's too), as does the time of
# the dbt run that classified a row; these are the only columns left out of the comparison.
LOAD_COLUMNS = {"load_id", "_dlt_load_id", "latest_load_id", "classified_at"}
# As `meterledger simulate` runs a scenario: its own meter catalogue replaces the seed, and a
# scenario states no exchange rates for the functional-currency test to check.
EXCLUDE = ["meters", "assert_journal_entry_lines_have_a_functional_rate", "test_type:unit"]


_parsed: dict[str, object] = {}  # target -> the parsed project (dbt's Manifest), for this worker


def _manifest(target: str, environment: dict[str, str]):
    from dbt.cli.main import dbtRunner

    from meterledger.simulate.run import PARSE_VARS

    if target not in _parsed:
        folder = Path(tempfile.mkdtemp(prefix=f"meterledger-pg-parse-{target}-"))
        os.environ.update({**environment, "METERLEDGER_DBT_TARGET": target})
        result = dbtRunner().invoke(["parse", *_common_args(folder), "--vars", json.dumps(PARSE_VARS),
                                     "--no-write-json"])
        if not result.success:
            raise RuntimeError(f"dbt parse on {target} failed: {result.exception}")
        _parsed[target] = result.result
    return _parsed[target]


def _common_args(target_path: Path) -> list[str]:
    return ["--project-dir", str(REPO_ROOT / "dbt_project"), "--profiles-dir", str(REPO_ROOT),
            "--target-path", str(target_path), "--log-path", str(target_path / "logs"),
            "--log-level", "none", "--no-use-colors", "--no-send-anonymous-usage-stats"]


def dbt(command: list[str], environment: dict[str, str], target_path: Path):
    """One dbt command on the parsed project of ``environment``'s target; its run results."""
    from dbt.cli.main import dbtRunner

    from meterledger.simulate.run import _failures, _release_warehouse

    target = environment["METERLEDGER_DBT_TARGET"]
    manifest = _manifest(target, environment)
    os.environ.update(environment)
    try:
        result = dbtRunner(manifest=manifest).invoke([*command, *_common_args(target_path)])
    finally:
        _release_warehouse()
    if result.exception is not None or not result.success:
        raise RuntimeError(f"dbt {command[0]} on {target} failed: "
                           f"{result.exception or _failures(result.result)}")
    return result.result


def write_postgres_meters(connection, scenario) -> None:
    """The scenario's meters as ``reference.meters`` (what the dbt seed ``meters`` builds), as
    ``meterledger.simulate.run.write_meter_catalogue`` writes it into DuckDB."""
    with connection.cursor() as cursor:
        cursor.execute("create schema if not exists reference")
        cursor.execute("create table reference.meters (meter_id text, aggregation text, property text, "
                       "unit text, description text)")
        cursor.executemany("insert into reference.meters values (%s, %s, %s, %s, %s)",
                           [(m.id, m.aggregation, m.property, m.unit or m.id, m.description or "")
                            for m in scenario.meters])
    connection.commit()


def _fresh_worker_database(server_environment: dict[str, str]) -> str:
    """This worker's database, emptied: one name for every scenario the worker builds, since the
    parsed project carries the database it was parsed for (the PostgreSQL nodes' ``database``)."""
    import psycopg2

    name = f"scenario_worker_{os.getpid()}"
    connection = psycopg2.connect(host=server_environment["METERLEDGER_PG_HOST"],
                                  port=server_environment["METERLEDGER_PG_PORT"],
                                  user=server_environment["METERLEDGER_PG_USER"],
                                  password=server_environment["METERLEDGER_PG_PASSWORD"], dbname="postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'drop database if exists "{name}" with (force)')
            cursor.execute(f'create database "{name}"')
    finally:
        connection.close()
    return name


def build_and_compare(scenario_file: str, server_environment: dict[str, str], unit_tests: bool = False) -> dict:
    """Both builds of one scenario; returns the models compared, their row counts (PostgreSQL),
    the differences by model (empty when identical) and the timings. ``unit_tests``: also run
    every dbt unit test on PostgreSQL afterwards (they type their inputs from the built relations)
    and return each one's status."""
    import duckdb
    import psycopg2

    from meterledger.simulate import load_scenario
    from meterledger.simulate.run import QUIET_ENVIRONMENT, ingest, write_meter_catalogue
    from meterledger.simulate.seeds import write_seeds
    from tests.postgres.compare import differences, duckdb_relation, postgres_relation

    scenario = load_scenario(scenario_file)
    workdir = Path(tempfile.mkdtemp(prefix="meterledger-pg-scenario-"))
    timings: dict[str, float] = {}
    try:
        os.environ.update(QUIET_ENVIRONMENT)
        os.environ.update(server_environment)
        database = _fresh_worker_database(server_environment)
        os.environ["METERLEDGER_PG_DATABASE"] = database
        write_seeds(scenario, workdir)
        warehouse = workdir / "warehouse.duckdb"
        pg = psycopg2.connect(host=server_environment["METERLEDGER_PG_HOST"],
                              port=server_environment["METERLEDGER_PG_PORT"],
                              user=server_environment["METERLEDGER_PG_USER"],
                              password=server_environment["METERLEDGER_PG_PASSWORD"], dbname=database)
        try:
            # The same files and emulator seeds into each warehouse, through the production sources.
            os.environ["METERLEDGER_DESTINATION"] = "duckdb"
            ingest(workdir, warehouse, timings, None, workdir / "dlt_duckdb")
            write_meter_catalogue(warehouse, scenario)
            os.environ["METERLEDGER_DESTINATION"] = "postgres"
            started = time.perf_counter()
            ingest(workdir, warehouse, {}, None, workdir / "dlt_postgres")
            write_postgres_meters(pg, scenario)
            timings["load_postgres"] = time.perf_counter() - started

            dbt_vars = json.dumps({"as_of": scenario.as_of.isoformat(), "finality_grace_days": 0})
            command = ["build", "--vars", dbt_vars, "--exclude", *EXCLUDE]
            environment = {**os.environ, "METERLEDGER_WAREHOUSE": str(warehouse)}
            for target in ("duckdb", "postgres"):
                started = time.perf_counter()
                dbt(command, {**environment, "METERLEDGER_DBT_TARGET": target}, workdir / f"dbt_{target}")
                timings[f"dbt_{target}"] = time.perf_counter() - started

            unit_results: dict[str, str] = {}
            if unit_tests:
                target = workdir / "dbt_postgres_unit"
                results = dbt(["test", "--select", "test_type:unit", "--vars", dbt_vars],
                              {**environment, "METERLEDGER_DBT_TARGET": "postgres"}, target)
                # The results also hold the on-run-start hook (the parsing functions): only the
                # unit tests are compared with the declared ones.
                unit_results = {result.node.unique_id: getattr(result.status, "value", result.status) for result in results.results
                                if result.node.unique_id.startswith("unit_test.")}

            manifest = _parsed["postgres"]
            models = sorted((node.schema, node.alias) for node in manifest.nodes.values()
                            if node.resource_type == "model")
            found: dict[str, str] = {}
            rows: dict[str, int] = {}
            with duckdb.connect(str(warehouse), read_only=True) as duck:
                for schema, name in models:
                    expected = duckdb_relation(duck, schema, name, drop=LOAD_COLUMNS)
                    actual = postgres_relation(pg, schema, name, drop=LOAD_COLUMNS)
                    rows[f"{schema}.{name}"] = len(actual.rows)
                    difference = differences(expected, actual)
                    if difference:
                        found[f"{schema}.{name}"] = difference
        finally:
            pg.close()
        return {"models": [f"{schema}.{name}" for schema, name in models], "rows": rows,
                "differences": found, "unit_tests": unit_results,
                "declared_unit_tests": sorted(manifest.unit_tests), "timings": {key: round(value, 2) for key, value in timings.items()}}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
