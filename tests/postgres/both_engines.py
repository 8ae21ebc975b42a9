"""One scenario fixture through both warehouses: the same seed and usage files, loaded by the
project's dlt sources into a DuckDB file and into a PostgreSQL database (``METERLEDGER_DESTINATION``),
then the same ``dbt build`` on each (profiles.yml targets ``duckdb`` and ``postgres``), and every
model's relation compared row for row.

Runs in a worker process (``build_and_compare``), so the environment each step reads is this
process's own. dbt runs as the ``dbt`` command, as an engineer would run it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# dlt's lineage of a load: the ID of the load that brought a row differs between two loads of
# the same files by nature, and is the only column left out of the comparison.
LOAD_COLUMNS = {"load_id", "_dlt_load_id"}
# As `meterledger simulate` runs a scenario: its own meter catalogue replaces the seed, and a
# scenario states no exchange rates for the functional-currency test to check.
EXCLUDE = ["meters", "assert_journal_entry_lines_have_a_functional_rate", "test_type:unit"]


def dbt(command: list[str], environment: dict[str, str], target_path: Path) -> None:
    dbt_bin = Path(sys.executable).parent / "dbt"
    arguments = [str(dbt_bin), *command, "--project-dir", str(REPO_ROOT / "dbt_project"),
                 "--profiles-dir", str(REPO_ROOT), "--target-path", str(target_path),
                 "--log-path", str(target_path / "logs"), "--no-use-colors"]
    result = subprocess.run(arguments, env=environment, cwd=REPO_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        failures = [line for line in result.stdout.splitlines() if "ERROR" in line or "FAIL" in line or "Error" in line]
        raise RuntimeError(f"dbt {command[0]} on {environment.get('METERLEDGER_DBT_TARGET')} failed:\n"
                           + "\n".join(failures[-30:] or result.stdout.splitlines()[-30:]) + result.stderr[-2000:])


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


def build_and_compare(scenario_file: str, server_environment: dict[str, str], database: str,
                      unit_tests: bool = False) -> dict:
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
                dbt(["test", "--select", "test_type:unit", "--vars", dbt_vars],
                    {**environment, "METERLEDGER_DBT_TARGET": "postgres"}, target)
                # The results also hold the on-run-start hook (the parsing functions): only the
                # unit tests are compared with the declared ones.
                unit_results = {result["unique_id"]: result["status"] for result in
                                json.loads((target / "run_results.json").read_text())["results"]
                                if result["unique_id"].startswith("unit_test.")}

            manifest = json.loads((workdir / "dbt_postgres" / "manifest.json").read_text())
            models = sorted((node["schema"], node["alias"]) for node in manifest["nodes"].values()
                            if node["resource_type"] == "model")
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
                "declared_unit_tests": sorted(manifest.get("unit_tests", {})), "timings": {key: round(value, 2) for key, value in timings.items()}}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
