"""Fixtures shared by the whole suite: a small demo data set, the emulators, a run of the graph."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

# Telemetry off for everything the tests start, before any of it is imported.
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

# The PostgreSQL suite needs a server `make test-postgres` provides: collected only there.
collect_ignore = [] if os.environ.get("METERLEDGER_POSTGRES_TESTS") == "1" else ["postgres"]

SMALL_DEMO = {"seed": 7, "customers": 16, "events": 30_000, "days": 75, "start_date": date(2026, 8, 1)}


@dataclass
class PipelineRun:
    data_dir: Path
    warehouse: Path
    manifest: dict
    stack: object
    flow: object = None  # meterledger.pipeline.FlowOutcome
    sensor_cursor: Path | None = None
    site_build: object = None  # tests.bi.site_build.BackgroundSiteBuild


def pytest_collection_modifyitems(config, items):
    """The finance page tests last: their site is built in the background meanwhile."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/bi/test_finance_pages.py"))


@pytest.fixture(scope="session")
def small_demo_data(tmp_path_factory) -> tuple[Path, dict]:
    from emulators.demo_data.generator import generate

    data_dir = tmp_path_factory.mktemp("demo_data")
    return data_dir, generate(data_dir, **SMALL_DEMO)


@pytest.fixture(scope="session")
def pipeline_run(small_demo_data, tmp_path_factory):
    """The whole loop run once against running emulators, as the schedule and the daemon would:
    the backfill of every delivery day but the last as one run, the last day, the period-close
    sensor and its NetSuite postings, NetSuite's bill runs, and the next day's run reading the
    invoices back. The emulators stay up for reads."""
    from emulators.runner import EmulatorStack
    from meterledger.pipeline import backfill_close_and_read_back, pipeline_environment

    data_dir, manifest = small_demo_data
    workdir = tmp_path_factory.mktemp("pipeline")
    warehouse = workdir / "warehouse" / "meterledger.duckdb"
    saved = dict(os.environ)
    stack = EmulatorStack(state_dir=workdir / "emulators", seed_dir=data_dir).start()
    os.environ.update(pipeline_environment(stack.environment(), warehouse, data_dir / "usage"))
    os.environ["DAGSTER_HOME"] = str(workdir / "dagster_home")
    (workdir / "dagster_home").mkdir()
    (workdir / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    cursor = workdir / "period_close_sensor.cursor"
    try:
        flow = backfill_close_and_read_back(data_dir / "usage", warehouse, stack.netsuite, cursor)
        # The daily build published the public marts: finance's site builds from them meanwhile.
        from tests.bi.site_build import BackgroundSiteBuild

        site_build = BackgroundSiteBuild(warehouse.parent / "published", warehouse, workdir)
        yield PipelineRun(data_dir=data_dir, warehouse=warehouse, manifest=manifest, stack=stack, flow=flow,
                          sensor_cursor=cursor, site_build=site_build)
    finally:
        stack.stop(save=False)
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def emulator_stack(small_demo_data, tmp_path_factory):
    """Both emulators seeded with the small demo data, for tests that talk to them directly."""
    from emulators.runner import EmulatorStack

    data_dir, _ = small_demo_data
    stack = EmulatorStack(state_dir=tmp_path_factory.mktemp("emulators"), seed_dir=data_dir).start()
    yield stack
    stack.stop(save=False)


@pytest.fixture
def netsuite_connection(emulator_stack):
    from meterledger.connections.netsuite import netsuite_connection_from

    return netsuite_connection_from(emulator_stack.environment(), timeout=5)


@pytest.fixture
def salesforce_connection(emulator_stack):
    from meterledger.connections.salesforce import salesforce_connection_from

    return salesforce_connection_from(emulator_stack.environment())
