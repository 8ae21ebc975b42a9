"""The period-close sensor, evaluated with Dagster's test APIs on a throw-away instance: it
starts the NetSuite postings once per billing period that closes and never for one that has not.
Which periods are closed comes from the billing_period_close asset's materialization (the SQL
deciding it is tested end to end in test_orchestration_flow.py)."""
from __future__ import annotations

import json

from dagster import AssetMaterialization, DagsterInstance, MetadataValue, SkipReason, build_sensor_context

from dagster_defs.sensors import PERIODS_TAG, period_close_sensor, run_key_for


def _daily_run_reports(instance: DagsterInstance, closed: list[str]) -> None:
    instance.report_runless_asset_event(AssetMaterialization(
        asset_key="billing_period_close", metadata={"closed_periods": MetadataValue.json(closed)}))


def _evaluate(instance: DagsterInstance, cursor: str | None):
    return period_close_sensor(build_sensor_context(instance=instance, cursor=cursor))


def test_nothing_before_the_first_daily_run():
    with DagsterInstance.ephemeral() as instance:
        result = _evaluate(instance, None)
    assert isinstance(result, SkipReason)
    assert "has not run" in result.skip_message


def test_one_run_per_closed_period_and_never_again():
    september = "2026-09-01..2026-09-30"
    anniversary = "2026-09-15..2026-10-14"
    october = "2026-10-01..2026-10-31"
    with DagsterInstance.ephemeral() as instance:
        _daily_run_reports(instance, [september])
        first = _evaluate(instance, None)
        [request] = first.run_requests
        assert request.tags[PERIODS_TAG] == september
        assert request.run_key == run_key_for([september])
        assert json.loads(first.cursor) == [september]

        # The next daily runs: nothing new closed, then two more periods close at once.
        repeat = _evaluate(instance, first.cursor)
        assert isinstance(repeat, SkipReason)
        _daily_run_reports(instance, [september, anniversary, october])
        second = _evaluate(instance, first.cursor)
        [request] = second.run_requests
        assert request.tags[PERIODS_TAG].split(",") == [anniversary, october]
        assert request.run_key != run_key_for([september])
        assert set(json.loads(second.cursor)) == {september, anniversary, october}
        assert isinstance(_evaluate(instance, second.cursor), SkipReason)


def test_a_period_that_is_not_closed_never_starts_a_run():
    # The daily run lists only closed periods; one that was listed and is no longer (a pending
    # amendment arrived late) does not run again, and an open one never appears.
    with DagsterInstance.ephemeral() as instance:
        _daily_run_reports(instance, [])
        assert isinstance(_evaluate(instance, None), SkipReason)
        _daily_run_reports(instance, ["2026-09-01..2026-09-30"])
        first = _evaluate(instance, None)
        _daily_run_reports(instance, [])
        assert isinstance(_evaluate(instance, first.cursor), SkipReason)
