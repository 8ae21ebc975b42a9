"""Alerting sensors: a failed run and a failed asset check (dbt tests included) each send one alert
through the configured notifier (a webhook, or a warning in the sensor's log by default).

No ``from __future__ import annotations`` here: Dagster reads the sensors' resource annotations.
"""
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional
from urllib.parse import quote

from dagster import (
    AssetCheckKey,
    ConfigurableResource,
    DefaultSensorStatus,
    RunFailureSensorContext,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    sensor,
)
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluation
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecord,
    AssetCheckExecutionRecordStatus,
)
from dagster._utils.error import SerializableErrorInfo

from meterledger.notifier import Alert, LogNotifier, Notifier, WebhookNotifier

ALERT_INTERVAL_SECONDS = 60
_MAX_ERROR_LINE = 300
_HISTORY_PAGE = 100


class NotifierResource(ConfigurableResource):
    """Where alerts go. ``webhook_url`` set: a JSON POST there (it may hold a secret token: it is
    never logged); empty: a warning in the sensor's log. ``dagster_url`` is the webserver's base
    URL, for links in the alerts."""

    webhook_url: str = ""
    ca_bundle: str = ""
    timeout_seconds: float = 10
    dagster_url: str = ""

    def notifier(self, log: Any = None) -> Notifier:
        if self.webhook_url:
            return WebhookNotifier(self.webhook_url, self.timeout_seconds, ca_bundle=self.ca_bundle or None, log=log)
        return LogNotifier(log)

    def link(self, path: str) -> Optional[str]:
        return f"{self.dagster_url.rstrip('/')}/{path.lstrip('/')}" if self.dagster_url else None


def _send(notifier: Notifier, alert: Alert, log: Any) -> bool:
    """A notifier must not raise; one that does (a custom one) still must not stop the sensor."""
    try:
        return bool(notifier.notify(alert))
    except Exception as error:  # noqa: BLE001 - the sensor's cursor must keep moving
        log.error(f"Notifier {type(notifier).__name__} raised {type(error).__name__} for alert "
                  f"{alert.kind}: {alert.title}")
        return False


def _first_line(text: Optional[str]) -> str:
    lines = (text or "").strip().splitlines()
    line = lines[0].strip() if lines else ""
    return line if len(line) <= _MAX_ERROR_LINE else line[: _MAX_ERROR_LINE - 1] + "…"


def _user_error(error: Optional[SerializableErrorInfo]) -> Optional[SerializableErrorInfo]:
    """The exception user code raised, not Dagster's 'Error occurred while executing op' wrapper."""
    while error is not None and error.cause is not None and error.cls_name in (
        "DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"
    ):
        error = error.cause
    return error


# ----------------------------------------------------------------------------------------- runs


def run_failure_alert(context: RunFailureSensorContext, resource: NotifierResource) -> Alert:
    run = context.dagster_run
    failures = []
    for event in context.get_step_failure_events():
        error = _user_error(getattr(event.event_specific_data, "error", None))
        message = error.message if error else event.message
        if error is not None and error.cls_name == "Failure":  # raised on purpose: its words suffice
            message = message.split(": ", 1)[-1]
        failures.append(f"{event.step_key}: {_first_line(message)}")
    if not failures:  # failed outside any step: run worker lost, launch error, cancelled steps...
        failures.append(_first_line(context.failure_event.message) or "the run failed")
    return Alert(
        kind="run_failure",
        title=f"Dagster run failed: {run.job_name} ({run.run_id[:8]})",
        text="\n".join(failures),
        job=run.job_name,
        run_id=run.run_id,
        dagster_url=resource.link(f"runs/{run.run_id}"),
    )


@run_failure_sensor(minimum_interval_seconds=ALERT_INTERVAL_SECONDS, default_status=DefaultSensorStatus.RUNNING,
                    description="Sends an alert for every failed run of a job in this code location.")
def run_failure_alert_sensor(context: RunFailureSensorContext, notifier: NotifierResource):
    _send(notifier.notifier(context.log), run_failure_alert(context, notifier), context.log)


# ------------------------------------------------------------------------------- asset checks


def check_failure_alert(record: AssetCheckExecutionRecord, resource: NotifierResource,
                        job_name: Optional[str]) -> Alert:
    evaluation = record.event.dagster_event.event_specific_data if record.event and record.event.dagster_event else None
    key = record.key
    asset = key.asset_key.to_user_string()
    severity = evaluation.severity.value if isinstance(evaluation, AssetCheckEvaluation) else "ERROR"
    description = evaluation.description if isinstance(evaluation, AssetCheckEvaluation) else None
    partition = record.partition
    where = f" [{partition}]" if partition else ""
    lines = [f"{severity}: check {key.name} on {asset}{where} failed"]
    if description:
        lines.append(description.strip())
    if isinstance(evaluation, AssetCheckEvaluation):
        for label, value in list(evaluation.metadata.items())[:5]:
            shown = getattr(value, "value", value)
            lines.append(f"{label}: {_first_line(str(shown))}")
    return Alert(
        kind="check_failure",
        title=f"Asset check failed ({severity}): {asset} {key.name}",
        text="\n".join(lines),
        job=job_name,
        run_id=record.run_id,
        asset=asset,
        check=key.name,
        severity=severity,
        partition=partition,
        dagster_url=resource.link(f"assets/{'/'.join(quote(p, safe='') for p in key.asset_key.path)}?view=checks"),
    )


def _load_cursor(raw: Optional[str]) -> dict[str, int]:
    if not raw:
        return {}
    try:
        loaded = json.loads(raw)
    except ValueError:
        return {}
    return {str(k): int(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def _new_records(storage, key: AssetCheckKey, after: int) -> list[AssetCheckExecutionRecord]:
    """The check's executions with an id above ``after``, oldest first."""
    records: list[AssetCheckExecutionRecord] = []
    page_cursor = None
    while True:
        page = storage.get_asset_check_execution_history(key, limit=_HISTORY_PAGE, cursor=page_cursor)
        fresh = [r for r in page if r.id > after]
        records.extend(fresh)
        if len(fresh) < len(page) or len(page) < _HISTORY_PAGE:
            return list(reversed(records))
        page_cursor = page[-1].id


def _settled(context: SensorEvaluationContext, record: AssetCheckExecutionRecord,
             runs: dict[str, Any]) -> bool:
    """Evaluated, or planned in a run that has ended without evaluating it (its failure is the run
    failure sensor's to report)."""
    if record.status != AssetCheckExecutionRecordStatus.PLANNED:
        return True
    if record.run_id not in runs:
        runs[record.run_id] = context.instance.get_run_by_id(record.run_id)
    run = runs[record.run_id]
    return run is None or run.is_finished


def _check_keys(context: SensorEvaluationContext) -> Sequence[AssetCheckKey]:
    repository = context.repository_def
    return sorted(repository.asset_graph.asset_check_keys, key=lambda k: k.to_user_string()) if repository else []


@sensor(minimum_interval_seconds=ALERT_INTERVAL_SECONDS, default_status=DefaultSensorStatus.RUNNING,
        description="Sends an alert for every failed evaluation of an asset check (dbt tests included) "
                    "of this code location, once. Turned on, it first reports checks whose latest "
                    "evaluation failed.")
def check_failure_alert_sensor(context: SensorEvaluationContext, notifier: NotifierResource):
    """Cursor: JSON {check key: id of the last settled execution record}, per check so that one
    check's execution still in flight holds back only that check. Each failed evaluation is sent
    once: the cursor moves past it whether or not the delivery succeeded (a failed delivery is
    logged by the notifier, and the alert text goes with it)."""
    keys = _check_keys(context)
    if not keys:
        return SkipReason("No asset checks in this code location.")
    storage = context.instance.event_log_storage
    names = {key.to_user_string() for key in keys}
    cursor = {name: id_ for name, id_ in _load_cursor(context.cursor).items() if name in names}
    latest: Mapping[AssetCheckKey, AssetCheckExecutionRecord] = storage.get_latest_asset_check_execution_by_key(keys)
    target = notifier.notifier(context.log)
    runs: dict[str, Any] = {}
    sent = failed_deliveries = 0

    for key in keys:
        name = key.to_user_string()
        newest = latest.get(key)
        if newest is None or newest.id <= cursor.get(name, -1):
            continue
        # A check seen for the first time: only its latest execution counts, not its history.
        records: Iterable[AssetCheckExecutionRecord] = (
            _new_records(storage, key, cursor[name]) if name in cursor else [newest]
        )
        for record in records:
            if not _settled(context, record, runs):
                if name not in cursor:
                    cursor[name] = record.id - 1  # look at it again on the next tick
                break
            if record.status == AssetCheckExecutionRecordStatus.FAILED:
                run = runs.get(record.run_id) or context.instance.get_run_by_id(record.run_id)
                delivered = _send(target, check_failure_alert(record, notifier, run.job_name if run else None),
                                  context.log)
                sent += 1
                failed_deliveries += not delivered
            cursor[name] = record.id

    context.update_cursor(json.dumps(cursor, sort_keys=True))
    if not sent:
        return SkipReason("No new failed asset check evaluations.")
    undelivered = f" ({failed_deliveries} could not be delivered)" if failed_deliveries else ""
    return SkipReason(f"Alerted {sent} failed asset check evaluation(s){undelivered}.")


alert_sensors = [run_failure_alert_sensor, check_failure_alert_sensor]
