"""Every dbt unit test of the project (the rules on fixed inputs: rating, proration, credits,
revenue recognition, journal entries), run once against the pipeline run's warehouse, which
holds every relation the unit tests' inputs are typed from. The Dagster build leaves them out
(dagster_defs/assets/transformation.py): they test logic, not the day's data."""
from __future__ import annotations

import json
import shutil

from tests.dbt_runs import parsed_project, run_dbt


def test_every_dbt_unit_test_passes(pipeline_run, tmp_path):
    warehouse = tmp_path / "meterledger.duckdb"
    shutil.copy(pipeline_run.warehouse, warehouse)
    target = tmp_path / "target"
    completed = run_dbt(["test", "--select", "test_type:unit"], warehouse, target)
    assert completed.success, completed.output[-6000:]
    results = json.loads((target / "run_results.json").read_text())["results"]
    unit_tests = [result for result in results if result["unique_id"].startswith("unit_test.")]
    assert {result["status"] for result in unit_tests} == {"pass"}
    # Every unit test the project declares ran (a YAML slip would silently drop one): those of
    # the parsed project the run used, what `dbt ls --resource-type unit_test` lists.
    declared = parsed_project().unit_tests
    assert {result["unique_id"] for result in unit_tests} == set(declared)
    assert len(unit_tests) == len(declared) >= 39
