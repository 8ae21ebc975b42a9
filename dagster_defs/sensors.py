"""The sensors that chain the day: the daily build after each delivery run, and the period close.

The period-close sensor starts the NetSuite postings once for every billing period that
closes, and never for one that has not.

It reads the list of closed periods from the latest materialization of ``billing_period_close``
(written by the daily run from rpt_billing_period_close, which weighs the usage watermarks,
pending amendments and NetSuite's accounting periods), so it never opens the warehouse. Its
cursor holds every period it has started a run for; a period that closes later (its last line's
usage completes, an amendment is activated, finance opens the accounting period) starts a run of
its own. Periods that close in the same daily run share one run; its run key names them, so an
evaluation repeated with the same cursor (a daemon restart) starts nothing twice."""

import hashlib
import json

from dagster import (
    AssetKey,
    DagsterRunStatus,
    RunRequest,
    RunsFilter,
    RunStatusSensorContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_status_sensor,
    sensor,
)

from dagster_defs.assets.period_close import CLOSED_PERIODS
from dagster_defs.jobs import daily_billing, period_close, usage_delivery

BILLING_PERIOD_CLOSE = AssetKey("billing_period_close")
PERIODS_TAG = "meterledger/billing_periods"
TAG_LIMIT = 4000  # Dagster tag values stay short; the run key still covers every period


def closed_periods(context: SensorEvaluationContext) -> list[str] | None:
    """The periods closed as of the latest daily run, or None before the first."""
    event = context.instance.get_latest_materialization_event(BILLING_PERIOD_CLOSE)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get(CLOSED_PERIODS)
    return list(value.value) if value is not None else None


def run_key_for(periods: list[str]) -> str:
    digest = hashlib.sha256("\n".join(periods).encode()).hexdigest()[:16]
    return f"billing-period-close:{periods[0]}:{periods[-1]}:{len(periods)}:{digest}"


@sensor(job=period_close, minimum_interval_seconds=300,
        description="Posts to NetSuite once per billing period that closes (rpt_billing_period_close).")
def period_close_sensor(context: SensorEvaluationContext):
    closed = closed_periods(context)
    if closed is None:
        return SkipReason("no billing_period_close materialization yet: the daily run has not run")
    started = set(json.loads(context.cursor)) if context.cursor else set()
    newly_closed = [period for period in closed if period not in started]
    if not newly_closed:
        return SkipReason(f"no billing period closed since the last run ({len(closed)} closed in all)")
    tag = ",".join(newly_closed)
    return SensorResult(
        run_requests=[RunRequest(run_key=run_key_for(newly_closed), tags={
            PERIODS_TAG: tag if len(tag) <= TAG_LIMIT else f"{tag[:TAG_LIMIT]}... ({len(newly_closed)} periods)"})],
        cursor=json.dumps(sorted(started | set(newly_closed))),
    )


IN_FLIGHT = (DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
             DagsterRunStatus.STARTED)


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS, monitored_jobs=[usage_delivery], request_job=daily_billing,
                   minimum_interval_seconds=30,
                   description="Runs the daily build after delivery runs (one build for a burst of them).")
def daily_billing_after_delivery(context: RunStatusSensorContext):
    """The daily build after a delivery run succeeds, unless another delivery run is still to
    finish (a backfill with the next day queued behind it): that one's success starts the build,
    which then covers both."""
    pending = context.instance.get_run_records(
        RunsFilter(job_name=usage_delivery.name, statuses=list(IN_FLIGHT)), limit=1)
    if pending:
        return SkipReason(f"delivery run {pending[0].dagster_run.run_id} is still to finish; "
                          "the daily build follows it")
    return RunRequest(run_key=f"after-delivery:{context.dagster_run.run_id}",
                      tags={"meterledger/delivery_run": context.dagster_run.run_id})
