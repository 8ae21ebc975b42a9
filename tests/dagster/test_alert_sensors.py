"""Alerting: the run-failure and asset-check-failure sensors, evaluated the way the daemon does
against a real (temporary, on-disk) Dagster instance, and the webhook notifier against a real HTTP
server on loopback. Test-only assets: nothing of the project's graph runs here."""
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckKey,
    AssetCheckSpec,
    AssetKey,
    Definitions,
    MaterializeResult,
    asset,
    build_run_status_sensor_context,
    build_sensor_context,
    define_asset_job,
    instance_for_test,
)

from dagster_defs.alerts import (
    NotifierResource,
    alert_sensors,
    check_failure_alert_sensor,
    run_failure_alert_sensor,
)
from meterledger.notifier import Alert, LogNotifier, WebhookNotifier

# --------------------------------------------------------------------------- test-only graph

RELEASE_CHECK = threading.Event()
RELEASE_CHECK.set()


@asset
def broken_asset():
    raise ValueError("boom: the meter exploded\nsecond line of the message")


@asset(check_specs=[AssetCheckSpec("non_negative", asset="checked_asset"),
                    AssetCheckSpec("has_rows", asset="checked_asset")])
def checked_asset():
    assert RELEASE_CHECK.wait(timeout=60)
    return MaterializeResult(check_results=[
        AssetCheckResult(check_name="non_negative", passed=False, severity=AssetCheckSeverity.WARN,
                         description="3 negative quantities", metadata={"failed_rows": 3}),
        AssetCheckResult(check_name="has_rows", passed=True),
    ])


ALERTS: list[Alert] = []


class RecordingNotifier:
    def notify(self, alert: Alert) -> bool:
        ALERTS.append(alert)
        return True


class RecordingNotifierResource(NotifierResource):
    def notifier(self, log=None):
        return RecordingNotifier()


def definitions(notifier: NotifierResource) -> Definitions:
    return Definitions(
        assets=[broken_asset, checked_asset],
        jobs=[define_asset_job("alert_test_job", selection="*"),
              define_asset_job("checks_only_job", selection="checked_asset")],
        sensors=alert_sensors,
        resources={"notifier": notifier},
    )


RECORDING = RecordingNotifierResource(dagster_url="http://dagster.test/")
DEFS = definitions(RECORDING)


@pytest.fixture(autouse=True)
def _fresh():
    ALERTS.clear()
    RELEASE_CHECK.set()
    yield
    RELEASE_CHECK.set()


@pytest.fixture()
def instance():
    with instance_for_test() as instance:  # on-disk, run-sharded SQLite: the default storage
        yield instance


def run_job(instance, name="alert_test_job", defs=DEFS):
    return defs.resolve_job_def(name).execute_in_process(instance=instance, raise_on_error=False)


def tick(sensor_def, instance, cursor=None, defs=DEFS, notifier=RECORDING):
    context = build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                   sensor_name=sensor_def.name, resources={"notifier": notifier})
    return sensor_def.evaluate_tick(context)


# ------------------------------------------------------------------------------ run failures


def test_run_failure_sensor_alerts_once_per_failed_run(instance):
    first = tick(run_failure_alert_sensor, instance)  # the daemon's first tick starts from "now"
    assert ALERTS == []

    assert run_job(instance, "checks_only_job").success
    after_success = tick(run_failure_alert_sensor, instance, first.cursor)
    assert ALERTS == []

    result = run_job(instance)
    assert not result.success
    data = tick(run_failure_alert_sensor, instance, after_success.cursor)
    assert ALERTS == [Alert(
        kind="run_failure",
        title=f"Dagster run failed: alert_test_job ({result.run_id[:8]})",
        text="broken_asset: ValueError: boom: the meter exploded",
        job="alert_test_job",
        run_id=result.run_id,
        dagster_url=f"http://dagster.test/runs/{result.run_id}",
    )]

    tick(run_failure_alert_sensor, instance, data.cursor)
    assert len(ALERTS) == 1


def test_run_failure_sensor_invoked_with_a_run_status_context(instance):
    result = run_job(instance)
    context = build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor", dagster_event=result.get_run_failure_event(),
        dagster_instance=instance, dagster_run=result.dagster_run,
        resources={"notifier": RecordingNotifierResource()},
    )
    run_failure_alert_sensor(context)
    [alert] = ALERTS
    assert (alert.kind, alert.job, alert.run_id) == ("run_failure", "alert_test_job", result.run_id)
    assert alert.text == "broken_asset: ValueError: boom: the meter exploded"
    assert "dagster_url" not in alert.payload()  # no webserver configured, no link


# ---------------------------------------------------------------------------- check failures


def test_check_failure_sensor_alerts_each_failed_evaluation_once(instance):
    assert tick(check_failure_alert_sensor, instance).skip_message == "No new failed asset check evaluations."

    first_run = run_job(instance)
    data = tick(check_failure_alert_sensor, instance)
    assert ALERTS == [Alert(
        kind="check_failure",
        title="Asset check failed (WARN): checked_asset non_negative",
        text="WARN: check non_negative on checked_asset failed\n3 negative quantities\nfailed_rows: 3",
        job="alert_test_job",
        run_id=first_run.run_id,
        asset="checked_asset",
        check="non_negative",
        severity="WARN",
        dagster_url="http://dagster.test/assets/checked_asset?view=checks",
    )]  # the passing has_rows check says nothing

    again = tick(check_failure_alert_sensor, instance, data.cursor)
    assert len(ALERTS) == 1
    assert again.cursor == data.cursor

    second_run = run_job(instance, "checks_only_job")
    third_run = run_job(instance, "checks_only_job")
    data = tick(check_failure_alert_sensor, instance, again.cursor)
    assert [(a.check, a.run_id, a.job) for a in ALERTS[1:]] == [
        ("non_negative", second_run.run_id, "checks_only_job"),
        ("non_negative", third_run.run_id, "checks_only_job"),
    ]
    tick(check_failure_alert_sensor, instance, data.cursor)
    assert len(ALERTS) == 3


def test_check_failure_sensor_turned_on_reports_only_the_latest_evaluation(instance):
    run_job(instance)
    latest = run_job(instance)
    tick(check_failure_alert_sensor, instance)
    assert [(a.check, a.run_id) for a in ALERTS] == [("non_negative", latest.run_id)]


def test_check_in_flight_is_reported_once_evaluated(instance):
    key = AssetCheckKey(AssetKey("checked_asset"), "non_negative")
    storage = instance.event_log_storage
    run_job(instance, "checks_only_job")
    data = tick(check_failure_alert_sensor, instance)
    ALERTS.clear()
    evaluated = storage.get_latest_asset_check_execution_by_key([key])[key]
    RELEASE_CHECK.clear()  # the check's step waits: its execution is planned, not evaluated
    running = threading.Thread(target=run_job, args=(instance, "checks_only_job"))
    running.start()
    try:
        deadline = time.monotonic() + 30
        while storage.get_latest_asset_check_execution_by_key([key])[key].id == evaluated.id:
            assert time.monotonic() < deadline, "the run never planned its checks"
            time.sleep(0.05)
        assert storage.get_latest_asset_check_execution_by_key([key])[key].status.value == "PLANNED"
        held = tick(check_failure_alert_sensor, instance, data.cursor)
        assert ALERTS == []
        assert held.cursor == data.cursor  # the planned execution holds the check's cursor back
    finally:
        RELEASE_CHECK.set()
        running.join(timeout=60)
    data = tick(check_failure_alert_sensor, instance, held.cursor)
    assert [(a.check, a.job) for a in ALERTS] == [("non_negative", "checks_only_job")]
    tick(check_failure_alert_sensor, instance, data.cursor)
    assert len(ALERTS) == 1


# ---------------------------------------------------------------------------------- webhook


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server = self.server
        server.received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        status = server.statuses.pop(0) if server.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture()
def hook_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.received, server.statuses = [], []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


ALERT = Alert(kind="check_failure", title="Asset check failed (ERROR): fct_usage unique_id",
              text="ERROR: check unique_id on fct_usage failed", job="daily_billing", run_id="r-1",
              asset="fct_usage", check="unique_id", severity="ERROR")


def test_webhook_notifier_posts_the_alert_as_json(hook_server):
    url = f"http://127.0.0.1:{hook_server.server_port}/hooks/T0K3N?sig=abc"
    assert WebhookNotifier(url, timeout=5).notify(ALERT) is True
    [(path, content_type, body)] = hook_server.received
    assert (path, content_type) == ("/hooks/T0K3N?sig=abc", "application/json")
    assert body == {"kind": "check_failure", "title": ALERT.title, "text": ALERT.text, "job": "daily_billing",
                    "run_id": "r-1", "asset": "fct_usage", "check": "unique_id", "severity": "ERROR",
                    "partition": None}


def test_webhook_notifier_retries_a_server_error(hook_server):
    hook_server.statuses[:] = [500, 200]
    url = f"http://127.0.0.1:{hook_server.server_port}/hook"
    assert WebhookNotifier(url, timeout=5, backoff_seconds=0.01).notify(ALERT) is True
    assert len(hook_server.received) == 2


def test_webhook_notifier_logs_a_client_error_without_retrying_or_the_url(hook_server, caplog):
    hook_server.statuses[:] = [404]
    url = f"http://127.0.0.1:{hook_server.server_port}/hooks/SECRETPATH?token=SECRETQUERY"
    notifier = WebhookNotifier(url, timeout=5, backoff_seconds=0.01, log=logging.getLogger("test.alerts"))
    with caplog.at_level(logging.INFO, logger="test.alerts"):
        assert notifier.notify(ALERT) is False
    assert len(hook_server.received) == 1
    assert f"to http://127.0.0.1:{hook_server.server_port} failed (HTTP 404)" in caplog.text
    assert "SECRET" not in caplog.text and "SECRET" not in repr(notifier)


def test_notifier_resource_chooses_the_notifier():
    assert isinstance(NotifierResource().notifier(), LogNotifier)
    webhook = NotifierResource(webhook_url="https://hooks.example.com/services/SECRET", timeout_seconds=3).notifier()
    assert isinstance(webhook, WebhookNotifier) and webhook.timeout == 3
    assert webhook.target == "https://hooks.example.com"


def test_dead_webhook_does_not_fail_the_sensors_nor_log_its_secret(instance, caplog, capfd):
    secret_url = f"http://127.0.0.1:{dead_port()}/hooks/SECRETPATH?token=SECRETQUERY"
    notifier = NotifierResource(webhook_url=secret_url, timeout_seconds=2)
    defs = definitions(notifier)
    first = tick(run_failure_alert_sensor, instance, defs=defs, notifier=notifier)
    run_job(instance, defs=defs)
    capfd.readouterr()
    with caplog.at_level(logging.INFO):
        run_data = tick(run_failure_alert_sensor, instance, first.cursor, defs=defs, notifier=notifier)
        check_data = tick(check_failure_alert_sensor, instance, defs=defs, notifier=notifier)
    assert run_data.dagster_run_reactions and not any(r.error for r in run_data.dagster_run_reactions)
    assert check_data.skip_message == "Alerted 1 failed asset check evaluation(s) (1 could not be delivered)."
    assert json.loads(check_data.cursor)  # the cursor moved on: the failure is not re-sent every tick

    logged = caplog.text + "".join(capfd.readouterr())
    host = secret_url.split("/hooks")[0]
    assert logged.count(f"Alert webhook to {host} failed (connection failed)") == 2
    assert "SECRET" not in logged
