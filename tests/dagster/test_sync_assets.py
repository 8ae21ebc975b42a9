"""The project's own Salesforce sync asset, run in-process against the emulator: records the
destination refuses fail the step with the counts and Salesforce's message in its metadata, and
the run-failure alert sensor reports them; the run after the data is fixed succeeds."""
from datetime import date
from decimal import Decimal

import duckdb
import pytest
from dagster import Definitions, define_asset_job, instance_for_test

from dagster_defs.alerts import run_failure_alert_sensor
from dagster_defs.assets.reverse_etl import salesforce_usage_summaries
from dagster_defs.resources import SalesforceResource, WarehouseResource
from tests.dagster.test_alert_sensors import ALERTS, RecordingNotifierResource, tick
from tests.emulators.salesforce_fixtures import (  # noqa: F401 - fixtures
    ACCOUNT_1, CLIENT_ID, CLIENT_SECRET, VERSION, SfClient, sf, sf_certificates, sf_seed_file, sf_server,
)
from tests.reverse_etl.test_salesforce_destination import NO_SUCH_ACCOUNT
from tests.reverse_etl.test_sync_command import _warehouse

NOTIFIER = RecordingNotifierResource()


@pytest.fixture()
def instance():
    with instance_for_test() as instance:
        yield instance


def _definitions(sf: SfClient, warehouse) -> Definitions:
    return Definitions(
        assets=[salesforce_usage_summaries],
        jobs=[define_asset_job("salesforce_sync", selection=[salesforce_usage_summaries])],
        sensors=[run_failure_alert_sensor],
        resources={"warehouse": WarehouseResource(path=str(warehouse)), "notifier": NOTIFIER,
                   "salesforce": SalesforceResource(login_url=sf.base_url, client_id=CLIENT_ID,
                                                    client_secret=CLIENT_SECRET, ca_bundle=str(sf.ca_bundle),
                                                    api_version=VERSION)})


def test_a_refused_record_fails_the_sync_asset_with_the_counts_and_the_alert_says_so(tmp_path, sf, instance):
    ALERTS.clear()
    warehouse = _warehouse(tmp_path / "w.duckdb", [ACCOUNT_1, NO_SUCH_ACCOUNT, ACCOUNT_1])
    defs = _definitions(sf, warehouse)
    before = tick(run_failure_alert_sensor, instance, defs=defs, notifier=NOTIFIER)

    result = defs.resolve_job_def("salesforce_sync").execute_in_process(instance=instance, raise_on_error=False)

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    data = failure.step_failure_data.user_failure_data
    message = f"INVALID_CROSS_REFERENCE_KEY: invalid cross reference id: {NO_SUCH_ACCOUNT} (Account__c)"
    assert data.description == (f"salesforce usage_summaries: 1 refused by salesforce (0 dead-lettered), 0 dead "
                                f"letters held, 0 missing a required value; 2 synced. First: cli:2: {message}")
    metadata = {key: value.value for key, value in data.metadata.items()}
    assert {key: metadata[key] for key in ("succeeded", "failed", "retry", "unknown", "blocked", "outcome")} == {
        "succeeded": 2, "failed": 1, "retry": 0, "unknown": 0, "blocked": 1, "outcome": "refused"}
    assert metadata["first_errors"] == f"cli:2: {message}"
    # Refused records are not retried by the step's retry policy: one attempt, not three.
    assert len([event for event in result.all_events if event.event_type_value == "STEP_START"]) == 1
    assert sorted(r["External_Id__c"] for r in sf.records("Usage_Summary__c")
                  if r["External_Id__c"].startswith("cli:")) == ["cli:1", "cli:3"]

    tick(run_failure_alert_sensor, instance, before.cursor, defs=defs, notifier=NOTIFIER)
    [alert] = ALERTS
    assert alert.kind == "run_failure" and alert.run_id == result.run_id
    assert alert.text == f"salesforce_usage_summaries: {data.description}"

    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("update reverse_etl_sync.sync_salesforce__usage_summaries set account_id = ? "
                           "where external_id = 'cli:2'", [ACCOUNT_1])
    fixed = defs.resolve_job_def("salesforce_sync").execute_in_process(instance=instance, raise_on_error=False)
    assert fixed.success
    [materialization] = fixed.asset_materializations_for_node("salesforce_usage_summaries")
    assert materialization.metadata["outcome"].value == "complete"
    assert materialization.metadata["succeeded"].value == 1
