"""Run a scenario through the production pipeline on an isolated temporary warehouse.

1. The scenario becomes seed files and usage files in a temporary folder (``seeds``).
2. Both emulators start on free loopback ports with those seeds, over HTTPS with a CA made for
   the run (``EmulatorStack``); clients verify it with the CA bundle the stack hands out.
3. The project's own dlt sources (``usage_source``, ``salesforce_source``, ``netsuite_source``)
   load into ``<tmp>/warehouse.duckdb`` through ``ingestion.pipelines.raw_pipeline``, as the
   Dagster assets do; only the raw tables the selected marts read (found in dbt's manifest) are
   loaded (NetSuite's accounting periods, accounts and subsidiaries feed the journal entries).
4. The scenario's meter catalogue becomes ``reference.meters`` in that warehouse; the dbt seed of
   the same name is left out of the run, and production's catalogue stays untouched.
5. dbt builds ``+fct_usage_records +fct_invoice_lines +fct_revenue_schedule +fct_journal_entries``
   with the production models and the
   project's invariant tests, ``--vars {as_of, finality_grace_days: 0}``, its target and logs
   inside the temporary folder (never dbt_project/target).
6. The marts are read into the output document (``output``); the folder is removed unless kept.

dbt runs in-process. The project is parsed with fixed parse-time vars, incrementally from a
partial-parse file in a cache folder outside the repository (``parse_cache_dir``), and the
manifest is kept for the life of the process: a test session parses once, and every build
compiles its models with its own ``as_of``.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from meterledger.simulate.scenario import Scenario

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
PROFILES_DIR = REPO_ROOT
WAREHOUSE_NAME = "warehouse.duckdb"  # the same file name every run: dbt's database name is its stem
MARTS = ("fct_usage_records", "fct_invoice_lines", "fct_revenue_schedule", "fct_journal_entries",
         "rpt_meter_property_gaps")
SELECTION = [f"+{mart}" for mart in MARTS]
QUIET_ENVIRONMENT = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "RUNTIME__LOG_LEVEL": "WARNING",
    # dlt: delete a package's load files once they are in the warehouse (as .dlt/config.toml says).
    "LOAD__DELETE_COMPLETED_JOBS": "true",
}


class SimulationError(RuntimeError):
    """The pipeline failed on a valid scenario (a dbt model or test, a load)."""


@dataclass
class Simulation:
    document: dict
    workdir: Path | None  # kept folder (--keep), else None
    timings: dict[str, float] = field(default_factory=dict)


def simulate(scenario: Scenario, *, keep: bool = False, tests: str = "invariants") -> Simulation:
    """Run ``scenario`` through ingestion and dbt; the output document as a dict.

    ``keep``: leave the temporary folder (warehouse, seeds, dbt debug log) for inspection.
    ``tests``: which dbt tests run with the models (``dbt_arguments``).
    """
    from meterledger.simulate.output import document
    from meterledger.simulate.seeds import write_seeds

    timings: dict[str, float] = {}
    workdir = Path(tempfile.mkdtemp(prefix="meterledger-simulate-"))
    try:
        with _timed(timings, "seeds"):
            write_seeds(scenario, workdir)
        warehouse = workdir / WAREHOUSE_NAME
        with _environment(QUIET_ENVIRONMENT):
            with _timed(timings, "dbt_parse"):
                tables = raw_tables_read(_manifest())
            with _environment({"METERLEDGER_WAREHOUSE": str(warehouse)}):
                ingest(workdir, warehouse, timings, tables)
                with _timed(timings, "meters"):
                    write_meter_catalogue(warehouse, scenario)
                with _timed(timings, "dbt"):
                    run_dbt(workdir, scenario, tests=tests, verbose=keep)
        with _timed(timings, "read"):
            result = document(warehouse, scenario)
    finally:
        _join_stopping()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return Simulation(document=result, workdir=workdir if keep else None, timings=timings)


@contextlib.contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - started


_ENV_LOCK = threading.RLock()


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the run and put the previous values back afterwards."""
    with _ENV_LOCK:
        saved = {key: os.environ.get(key) for key in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


# --- ingestion --------------------------------------------------------------------------------

_STOPPING: list[threading.Thread] = []


def _join_stopping() -> None:
    while _STOPPING:
        _STOPPING.pop().join(timeout=10)


def ingest(workdir: Path, warehouse: Path, timings: dict[str, float],
           tables: dict[str, set[str]] | None = None, pipelines_dir: Path | None = None) -> None:
    """Load the raw datasets with the project's dlt sources, as the Dagster assets do.

    ``tables``: the raw tables to load, by dataset (``raw_tables_read``); None loads every
    resource of every source. A system none of whose tables is read is not loaded at all.
    The destination is ``METERLEDGER_DESTINATION``'s (``ingestion.pipelines.raw_pipeline``);
    ``pipelines_dir`` keeps dlt's state apart when one folder is loaded into two warehouses."""
    from emulators.runner import EmulatorStack
    from ingestion.netsuite import netsuite_source
    from ingestion.pipelines import raw_pipeline
    from ingestion.salesforce import salesforce_source
    from ingestion.usage import usage_source
    from meterledger.connections.netsuite import netsuite_connection_from
    from meterledger.connections.salesforce import salesforce_connection_from

    pipelines_dir = pipelines_dir or workdir / "dlt_pipelines"
    with _timed(timings, "emulators"):
        stack = EmulatorStack(state_dir=workdir / "emulators", seed_dir=workdir).start()
    try:
        settings = stack.environment()
        salesforce = salesforce_connection_from(settings)
        netsuite = netsuite_connection_from(settings)
        sources = {
            "usage": lambda: usage_source(root=str(workdir / "usage")),
            "salesforce": lambda: salesforce_source(connect=lambda: salesforce),
            "netsuite": lambda: netsuite_source(connect=lambda: netsuite),
        }
        for system, source in sources.items():
            wanted = tables.get(f"raw_{system}", set()) if tables is not None else None
            if wanted is not None and not wanted:
                continue  # nothing the selected models read comes from this system
            with _timed(timings, f"load_{system}"):
                pipeline = raw_pipeline(system, warehouse, pipelines_dir=pipelines_dir)
                declared = source()
                if wanted is not None:
                    declared = declared.with_resources(
                        *(name for name, resource in declared.resources.items() if resource.table_name in wanted))
                if system == "salesforce":
                    declared = _materializing(declared)
                pipeline.run(declared).raise_on_failed_jobs()
                _materialize_empty_tables(pipeline, declared)
    finally:
        # Stopping waits for each server's poll interval: let it happen while dbt runs.
        stopper = threading.Thread(target=stack.stop, kwargs={"save": False}, name="simulate-emulators-stop")
        stopper.start()
        _STOPPING.append(stopper)


def _schema_only():
    import dlt

    yield dlt.mark.materialize_table_schema()


def _materializing(source):
    """``source`` with each resource also asking for its table to be created, as the NetSuite
    source's resources do: a Salesforce object without records (a scenario without price tiers
    or amendments) still becomes an empty raw table, which staging selects from. dlt creates a
    table only when data or this marker reaches it."""
    import dlt

    markers = []
    for name, resource in list(source.selected_resources.items()):
        table = resource.compute_table_schema()
        markers.append(dlt.resource(_schema_only, name=f"{name}__table", table_name=resource.table_name,
                                    columns=table.get("columns"), write_disposition=table.get("write_disposition")))
    source.resources.add(*markers)
    return source


def _materialize_empty_tables(pipeline, source) -> None:
    """Create, empty, the raw tables of resources that loaded nothing (with the columns the
    resource declares), in a second load. A safety net: the usage source always gets a file and
    the other two sources materialize their tables themselves."""
    import dlt
    from dlt.common.schema.utils import has_table_seen_data

    tables = pipeline.default_schema.tables
    missing = {name: resource for name, resource in source.resources.items()
               if resource.selected and isinstance(resource.table_name, str)
               and not (resource.table_name in tables and has_table_seen_data(tables[resource.table_name]))}
    if not missing:
        return
    resources = []
    for name, resource in missing.items():
        table = resource.compute_table_schema()
        resources.append(dlt.resource(_schema_only, name=name, table_name=resource.table_name,
                                      columns=table.get("columns"),
                                      write_disposition=table.get("write_disposition", "append")))

    @dlt.source(name=source.name)
    def empty_tables():
        return resources

    pipeline.run(empty_tables()).raise_on_failed_jobs()


# --- reference data ---------------------------------------------------------------------------

def write_meter_catalogue(warehouse: Path, scenario: Scenario) -> None:
    """The scenario's meters as ``reference.meters``, the table the dbt seed ``meters`` builds
    in production (same columns and types), in this warehouse only."""
    import duckdb

    rows = [(m.id, m.aggregation, m.property, m.unit or m.id, m.description or "") for m in scenario.meters]
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema if not exists reference")
        connection.execute("create or replace table reference.meters (meter_id varchar, aggregation varchar, "
                           "property varchar, unit varchar, description varchar)")
        if rows:
            connection.executemany("insert into reference.meters values (?, ?, ?, ?, ?)", rows)


# --- dbt --------------------------------------------------------------------------------------

# Parse-time settings: fixed, so dbt's partial parsing (which starts over whenever --vars or an
# env var the profile reads change) stays valid from one run to the next. The real as_of goes
# to the build, which compiles every model with its own vars.
PARSE_VARS = {"as_of": "2000-01-01", "finality_grace_days": 0}
TEST_MODES = ("invariants", "all", "none")
PARSE_LOCK_TIMEOUT = 120.0

_MANIFEST_LOCK = threading.Lock()
_manifest_cache: dict[str, object] = {}


def _dbt_vars(scenario: Scenario) -> str:
    return json.dumps({"as_of": scenario.as_of.isoformat(), "finality_grace_days": 0})


def _common_args(target: Path, logs: Path, verbose: bool) -> list[str]:
    return ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(PROFILES_DIR),
            "--target-path", str(target), "--log-path", str(logs),
            "--log-level", "none", "--log-level-file", "debug" if verbose else "none",
            "--no-use-colors", "--no-send-anonymous-usage-stats"]


def _project_fingerprint() -> str:
    """Changes whenever a file of the dbt project changes: a manifest kept in memory is then stale."""
    newest, count = 0.0, 0
    for folder in ("models", "macros", "seeds", "tests", "snapshots", "analyses"):
        base = DBT_PROJECT_DIR / folder
        if base.is_dir():
            for path in base.rglob("*"):
                if path.is_file():
                    newest = max(newest, path.stat().st_mtime)
                    count += 1
    for path in (DBT_PROJECT_DIR / "dbt_project.yml", PROFILES_DIR / "profiles.yml"):
        newest = max(newest, path.stat().st_mtime)
    return f"{newest}:{count}"


def parse_cache_dir() -> Path:
    """Where dbt keeps its partial-parse state for simulations: outside the repository (never
    dbt_project/target, which production runs use), one folder per checkout.
    ``METERLEDGER_SIMULATE_CACHE`` overrides the place."""
    checkout = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:12]
    configured = os.environ.get("METERLEDGER_SIMULATE_CACHE")
    candidates = [Path(configured)] if configured else [
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "meterledger" / f"simulate-dbt-{checkout}",
        Path(tempfile.gettempdir()) / f"meterledger-simulate-dbt-{os.getuid()}-{checkout}",
    ]
    for candidate in candidates:
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            return candidate
        except OSError:
            continue
    raise SimulationError(f"no writable folder for dbt's parse cache (tried {', '.join(map(str, candidates))})")


def _manifest():
    """The parsed project: kept in memory for the process, and parsed incrementally from the
    cache folder's partial-parse file across processes."""
    from dbt.cli.main import dbtRunner

    key = _project_fingerprint()
    with _MANIFEST_LOCK:
        if key in _manifest_cache:
            return _manifest_cache[key]
        cache = parse_cache_dir()
        with open(cache / "parse.lock", "w") as lock:
            # One process at a time writes the partial-parse file; one that waits too long (another
            # stuck holding the lock) parses on its own, from scratch, in a private folder.
            if not _lock(lock, PARSE_LOCK_TIMEOUT):
                cache = Path(tempfile.mkdtemp(prefix="meterledger-simulate-parse-"))
            with _environment({"METERLEDGER_WAREHOUSE": str(cache / WAREHOUSE_NAME)}):
                result = dbtRunner().invoke(["parse", *_common_args(cache / "target", cache / "logs", False),
                                             "--vars", json.dumps(PARSE_VARS), "--no-write-json"])
        if not result.success:
            raise SimulationError(f"dbt could not parse the project: {result.exception}")
        _manifest_cache.clear()
        _manifest_cache[key] = result.result
        return result.result


def _lock(handle, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)


def raw_tables_read(manifest) -> dict[str, set[str]]:
    """The raw tables (by schema) the selected marts are built from, found in the manifest: the
    only ones a simulation needs to load."""
    roots = [uid for uid, node in manifest.nodes.items()
             if node.resource_type == "model" and node.name in MARTS]
    missing = set(MARTS) - {manifest.nodes[uid].name for uid in roots}
    if missing:
        raise SimulationError(f"the dbt project has no model {', '.join(sorted(missing))}")
    seen: set[str] = set()
    tables: dict[str, set[str]] = {}
    while roots:
        uid = roots.pop()
        if uid in seen:
            continue
        seen.add(uid)
        if uid in manifest.sources:
            source = manifest.sources[uid]
            tables.setdefault(source.schema, set()).add(source.identifier or source.name)
        elif uid in manifest.nodes:
            roots.extend(getattr(manifest.nodes[uid].depends_on, "nodes", []))
    return tables


def dbt_arguments(workdir: Path, scenario: Scenario, tests: str, verbose: bool) -> list[str]:
    """The dbt command of a simulation. ``tests``: ``invariants`` builds the models and the
    project's singular tests (the invariants: periods tile the term, segments tile periods,
    every usage event is billed or quarantined, ...); ``all`` adds every generic and unit test;
    ``none`` only runs the models. Tests that need a model outside the selection are left out
    (cautious indirect selection); the meters seed is left out because the scenario's catalogue
    replaces it."""
    if tests not in TEST_MODES:
        raise ValueError(f"tests must be one of {', '.join(TEST_MODES)}")
    # A scenario states no exchange rates: the functional-currency check has nothing to check.
    exclude = ["meters", "assert_journal_entry_lines_have_a_functional_rate"] + (
        ["test_type:generic", "test_type:unit"] if tests == "invariants" else [])
    return ["run" if tests == "none" else "build",
            *_common_args(workdir / "dbt_target", workdir / "dbt_logs", verbose),
            "--vars", _dbt_vars(scenario), "--select", *SELECTION, "--exclude", *exclude,
            "--indirect-selection", "cautious", "--no-write-json"]


def run_dbt(workdir: Path, scenario: Scenario, *, tests: str = "invariants", verbose: bool = False) -> None:
    from dbt.cli.main import dbtRunner

    manifest = _manifest()
    args = dbt_arguments(workdir, scenario, tests, verbose)
    try:
        result = dbtRunner(manifest=manifest).invoke(args)
    finally:
        _release_warehouse()
    hint = "" if verbose else " (meterledger simulate --keep keeps the warehouse and dbt's debug log)"
    if result.exception is not None:
        raise SimulationError(f"dbt {args[0]} failed: {result.exception}{hint}")
    if not result.success:
        raise SimulationError(f"dbt {args[0]} failed: {_failures(result.result)}{hint}")


def _release_warehouse() -> None:
    """Close the DuckDB database dbt-duckdb keeps open after an in-process invocation, so the
    warehouse can be read (read-only) and removed, and the next run opens its own file."""
    from dbt.adapters.factory import cleanup_connections

    cleanup_connections()
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # pragma: no cover - another adapter
        return
    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        if environment is not None:
            environment.close()
            DuckDBConnectionManager._ENV = None


def _failures(results) -> str:
    problems = []
    for node_result in getattr(results, "results", []) or []:
        status = str(getattr(node_result, "status", "")).lower()
        if status.endswith(("error", "fail")):
            name = getattr(getattr(node_result, "node", None), "name", "?")
            message = (getattr(node_result, "message", "") or "").strip().splitlines()
            problems.append(f"{name}: {message[0] if message else status}")
    return "; ".join(problems[:6]) or "no node reported an error"
