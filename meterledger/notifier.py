"""Where alerts go: a log line by default, a JSON webhook (Slack-compatible ``text``) by configuration.

A notifier never raises for a delivery failure: the caller (a Dagster sensor) must keep its cursor
moving, so a failed webhook is logged and reported as ``False`` instead. A webhook URL often
carries its secret in the path or query (Slack, Teams, PagerDuty): it is never logged nor put in a
message; only its scheme and host are.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

import requests
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from meterledger.http import VerifiedSession

AlertKind = Literal["run_failure", "check_failure"]


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    title: str
    text: str
    job: str | None = None
    run_id: str | None = None
    asset: str | None = None
    check: str | None = None
    severity: str | None = None
    partition: str | None = None
    dagster_url: str | None = None

    def payload(self) -> dict[str, Any]:
        """The JSON body a webhook receives: every field, ``dagster_url`` only when known."""
        body = asdict(self)
        if body["dagster_url"] is None:
            del body["dagster_url"]
        return body


@runtime_checkable
class Notifier(Protocol):
    def notify(self, alert: Alert) -> bool:
        """Deliver one alert; True when delivered. Never raises for a delivery failure."""
        ...


def _default_log() -> Any:
    return logging.getLogger("meterledger.alerts")


class LogNotifier:
    """Alerts as warnings in the given log (a Dagster ``context.log`` or a ``logging.Logger``)."""

    def __init__(self, log: Any = None) -> None:
        self.log = log if log is not None else _default_log()

    def notify(self, alert: Alert) -> bool:
        self.log.warning(f"ALERT {alert.kind}: {alert.title}\n{alert.text}")
        return True


def redacted(url: str) -> str:
    """What may be said about a URL: its scheme and host (and port), never path, query or userinfo."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    return f"{parts.scheme or '?'}://{host}{port}"


class WebhookStatusError(Exception):
    """A non-2xx answer; carries the status only (requests' own message would hold the URL)."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


def _is_retryable(error: BaseException) -> bool:
    if isinstance(error, WebhookStatusError):
        return error.status_code == 429 or error.status_code >= 500
    if isinstance(error, requests.exceptions.SSLError):  # a wrong CA bundle does not heal in a second
        return False
    return isinstance(error, (requests.ConnectionError, requests.Timeout))


class WebhookNotifier:
    """POSTs each alert as JSON. Connection errors, timeouts, 429 and 5xx are retried a few times
    with a short backoff; after that (or on another 4xx) the failure is logged and False returned."""

    def __init__(self, url: str, timeout: float = 10.0, *, ca_bundle: str | None = None, log: Any = None,
                 max_attempts: int = 3, backoff_seconds: float = 0.5) -> None:
        if not url:
            raise ValueError("WebhookNotifier needs a URL")
        self._url = url
        self.target = redacted(url)
        self.timeout = timeout
        self.log = log if log is not None else _default_log()
        self.session = VerifiedSession(ca_bundle or None)
        self._post = retry(
            retry=retry_if_exception(_is_retryable),
            wait=wait_exponential_jitter(multiplier=backoff_seconds, max=max(backoff_seconds, 5.0), jitter=backoff_seconds),
            stop=stop_after_attempt(max_attempts),
            reraise=True,
        )(self._post_once)

    def __repr__(self) -> str:  # the URL is a secret: keep it out of reprs and tracebacks' locals
        return f"WebhookNotifier({self.target})"

    def _post_once(self, body: dict[str, Any]) -> None:
        response = self.session.post(self._url, json=body, timeout=self.timeout)
        try:
            if not 200 <= response.status_code < 300:
                raise WebhookStatusError(response.status_code)
        finally:
            response.close()

    def notify(self, alert: Alert) -> bool:
        try:
            self._post(alert.payload())
        except WebhookStatusError as error:
            reason = str(error)
        except requests.exceptions.SSLError:
            reason = "TLS error (check the CA bundle)"
        except requests.Timeout:
            reason = f"timed out after {self.timeout:g}s"
        except requests.ConnectionError:
            reason = "connection failed"
        except requests.RequestException as error:  # invalid URL, TLS setup, ...: name only, no message
            reason = type(error).__name__
        else:
            return True
        self.log.error(f"Alert webhook to {self.target} failed ({reason}); the alert was: "
                       f"{alert.kind}: {alert.title}\n{alert.text}")
        return False
