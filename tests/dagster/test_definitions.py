"""The Dagster code location, checked with Dagster's own APIs: it loads, and it holds the jobs,
partitions, schedule, sensors and checks the daily operation needs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dagster_defs.dbt_args import dbt_build_args

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def defs():
    from meterledger.pipeline import prepare_dbt

    prepare_dbt()
    from dagster_defs.definitions import defs

    return defs


def test_dagster_definitions_validate_loads_the_code_location():
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                   "DAGSTER_HOME": str(REPO / ".dagster")}
    result = subprocess.run([str(Path(sys.executable).parent / "dagster"), "definitions", "validate",
                             "-m", "dagster_defs.definitions"], cwd=REPO, env=environment,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_the_daily_schedule_runs_the_previous_delivery_day(defs):
    schedule = defs.get_schedule_def("usage_delivery_schedule")
    assert schedule.job_name == "usage_delivery"
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone in (None, "UTC")
    job = defs.resolve_job_def("usage_delivery")
    assert job.partitions_def.get_partition_keys()[0] == "2025-01-01"
    assert {key.to_user_string() for key in job.asset_layer.selected_asset_keys} >= {
        "raw_usage/usage_events", "raw_salesforce/account", "intermediate/int_usage_events_classified"}


def test_the_sensors_are_there(defs):
    names = {sensor.name for sensor in defs.sensors}
    assert {"daily_billing_after_delivery", "period_close_sensor", "run_failure_alert_sensor",
            "check_failure_alert_sensor"} <= names
    assert defs.get_sensor_def("period_close_sensor").job_name == "period_close"
    assert defs.get_sensor_def("daily_billing_after_delivery").job_name == "daily_billing"


def test_the_daily_build_follows_each_delivery_run_once(defs):
    from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, SkipReason, build_run_status_sensor_context

    from dagster_defs.sensors import daily_billing_after_delivery

    with DagsterInstance.ephemeral() as instance:
        run = instance.add_run(DagsterRun(job_name="usage_delivery", run_id="0f5e7c1a-delivery",
                                          status=DagsterRunStatus.SUCCESS, tags={"dagster/partition": "2026-08-01"}))
        context = build_run_status_sensor_context(
            sensor_name="daily_billing_after_delivery", dagster_instance=instance, dagster_run=run,
            dagster_event=_success_event(run))
        request = daily_billing_after_delivery(context)
        assert request.run_key == f"after-delivery:{run.run_id}"
        assert request.tags["meterledger/delivery_run"] == run.run_id

        # A backfill done while the next day's delivery runs: that one starts the build.
        queued = instance.add_run(DagsterRun(job_name="usage_delivery", run_id="0f5e7c1a-next-day",
                                             status=DagsterRunStatus.STARTED))
        skipped = daily_billing_after_delivery(context)
        assert isinstance(skipped, SkipReason) and queued.run_id in skipped.skip_message


def _success_event(run):
    from dagster import DagsterEvent, DagsterEventType

    return DagsterEvent(event_type_value=DagsterEventType.RUN_SUCCESS.value, job_name=run.job_name)


def test_usage_ingestion_and_the_incremental_models_are_partitioned_the_rest_is_not(defs):
    from dagster import AssetKey

    graph = defs.resolve_asset_graph()
    partitioned = {key.to_user_string() for key in graph.get_all_asset_keys()
                   if graph.get(key).partitions_def is not None}
    assert "raw_usage/usage_events" in partitioned
    assert any(key.endswith("int_usage_events_classified") for key in partitioned)
    assert not any(key.endswith("fct_usage_records") or key.startswith("raw_netsuite") for key in partitioned)
    for key in partitioned:
        assert graph.get(AssetKey.from_user_string(key)).backfill_policy.max_partitions_per_run is None, key


def test_the_syncs_are_guarded_by_blocking_checks(defs):
    graph = defs.resolve_asset_graph()
    checks = {check.name: check for check in graph.asset_check_keys}
    assert {"reconciliation_within_tolerance", "journal_entries_balance"} <= set(checks)
    from dagster import AssetKey

    from dagster_defs.retries import SYNC_RETRY

    for name in ("netsuite_usage_records", "netsuite_journal_entries", "salesforce_usage_summaries",
                 "salesforce_credit_balances", "salesforce_accounts"):
        parents = {key.path[-1] for key in graph.get(AssetKey(name)).parent_keys}
        assert {"rpt_billing_reconciliation", "fct_journal_entries"} <= parents, name
        assert defs.get_assets_def(AssetKey(name)).op.retry_policy == SYNC_RETRY, name
    assert checks["reconciliation_within_tolerance"].asset_key.path[-1] == "rpt_billing_reconciliation"
    assert checks["journal_entries_balance"].asset_key.path[-1] == "fct_journal_entries"


def test_the_period_close_job_holds_only_the_usage_records_and_their_guards(defs):
    job = defs.resolve_job_def("period_close")
    assert {key.path[-1] for key in job.asset_layer.selected_asset_keys} == {"netsuite_usage_records"}
    assert {key.name for key in job.asset_layer.asset_graph.asset_check_keys} == {
        "reconciliation_within_tolerance", "journal_entries_balance"}
    assert sorted(job.graph.node_dict) == [
        "marts__fct_journal_entries_journal_entries_balance",
        "marts__rpt_billing_reconciliation_reconciliation_within_tolerance",
        "netsuite_usage_records"]
    daily = defs.resolve_job_def("daily_billing")
    assert "netsuite_journal_entries" in daily.graph.node_dict
    assert "netsuite_usage_records" not in daily.graph.node_dict


def test_dbt_build_args_pass_the_partition_window_as_vars():
    build = ["build", "--exclude-resource-type", "unit_test", "--indirect-selection", "buildable"]
    assert dbt_build_args() == build
    args = dbt_build_args(("2026-08-01", "2026-10-29"))
    assert args[:5] == build
    assert args[5] == "--vars"
    assert json.loads(args[6]) == {"usage_delivered_from": "2026-08-01", "usage_delivered_through": "2026-10-29"}
    with pytest.raises(ValueError, match="ends before it starts"):
        dbt_build_args(("2026-08-02", "2026-08-01"))
