"""Run the whole Dagster asset graph in-process, the way `make demo` and the tests do."""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def pipeline_environment(destinations: dict[str, str], warehouse: Path, usage_root: Path) -> dict[str, str]:
    """The environment the Dagster resources and dbt read at run time."""
    return {
        **destinations,
        "METERLEDGER_WAREHOUSE": str(warehouse),
        "METERLEDGER_USAGE_ROOT": str(usage_root),
        "DAGSTER_HOME": os.environ.get("DAGSTER_HOME") or str(REPO_ROOT / ".dagster"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }


def prepare_dbt() -> None:
    """Parse the dbt project so the manifest the dbt assets are built from exists."""
    from dagster_defs.project import dbt_project

    dbt_project.preparer.prepare(dbt_project)


def materialize_all(log_level: str = "WARNING") -> None:
    """Materialize every asset once, in one process, one step at a time (DuckDB has one writer)."""
    # dagster-dbt runs `dbt` from PATH: this environment's, even when it is not activated.
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([scripts, os.environ.get("PATH", "")])
    prepare_dbt()
    from dagster import DagsterInstance

    from dagster_defs.definitions import defs

    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    with DagsterInstance.get() as instance:
        result = defs.resolve_job_def("daily_billing").execute_in_process(
            instance=instance, run_config=run_config, raise_on_error=False)
    if not result.success:
        failures = [event for event in result.all_events if event.is_step_failure]
        detail = "; ".join(f"{event.step_key}: {_essence(event.step_failure_data.error)}"
                           for event in failures) or "see the Dagster run log"
        raise RuntimeError(f"Dagster run {result.run_id} failed: {detail}")


def _essence(error) -> str:
    """The lines of a step failure that name what broke: the root cause, dbt's parsed errors."""
    while error.cause is not None:
        error = error.cause
    lines = [line.strip() for line in error.message.strip().splitlines() if line.strip()]
    named = [line for line in lines if " in model " in line or " in test " in line or "Error:" in line]
    return " | ".join(named[:6]) if named else lines[0]
