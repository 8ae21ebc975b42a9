"""Every dbt unit test of the project (the rules on fixed inputs: rating, proration, credits,
revenue recognition, journal entries), run once against the pipeline run's warehouse, which
holds every relation the unit tests' inputs are typed from. The Dagster build leaves them out
(dagster_defs/assets/transformation.py): they test logic, not the day's data."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_dbt_unit_test_passes(pipeline_run, tmp_path):
    warehouse = tmp_path / "meterledger.duckdb"
    shutil.copy(pipeline_run.warehouse, warehouse)
    target = tmp_path / "target"
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "test", "--select", "test_type:unit",
         "--project-dir", str(REPO / "dbt_project"), "--profiles-dir", str(REPO), "--target-path", str(target)],
        env={**os.environ, "METERLEDGER_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout[-6000:]
    results = json.loads((target / "run_results.json").read_text())["results"]
    unit_tests = [result for result in results if result["unique_id"].startswith("unit_test.")]
    assert {result["status"] for result in unit_tests} == {"pass"}
    # Every unit test the project declares ran (a YAML slip would silently drop one).
    declared = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "ls", "--resource-type", "unit_test", "--project-dir",
         str(REPO / "dbt_project"), "--profiles-dir", str(REPO), "--target-path", str(target), "--quiet",
         "--output", "name"],
        env={**os.environ, "METERLEDGER_WAREHOUSE": str(warehouse)}, capture_output=True, text=True)
    assert len(unit_tests) == len(declared.stdout.split()) >= 39
