"""Salesforce REST connection: OAuth 2.0 client credentials, one re-authentication on expiry,
retries with backoff on rate limits and server errors."""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Iterator, Mapping

import requests
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from meterledger.connections.errors import DestinationError, request_not_sent
from meterledger.http import VerifiedSession


def salesforce_error(response: requests.Response) -> DestinationError:
    code, message = "HTTP_ERROR", response.text[:500]
    try:
        body = response.json()
        first = body[0] if isinstance(body, list) and body else body
        code = first.get("errorCode") or first.get("error") or code
        message = first.get("message") or first.get("error_description") or message
    except (ValueError, AttributeError):
        pass
    # 403 REQUEST_LIMIT_EXCEEDED (the daily allowance spent) is not retried: it lasts for hours.
    retryable = response.status_code == 429 or response.status_code >= 500 or code == "UNABLE_TO_LOCK_ROW"
    return DestinationError("Salesforce", response.status_code, code, message, retryable)


def _is_retryable(error: BaseException) -> bool:
    if isinstance(error, DestinationError):
        return error.retryable
    return isinstance(error, (requests.ConnectionError, requests.Timeout))


def _is_answered_retryable(error: BaseException) -> bool:
    # Salesforce answered and applied nothing (429, 5xx, a locked row), or no connection was
    # made. A lost answer is not here: the write may have been applied.
    return (isinstance(error, DestinationError) and error.retryable) or request_not_sent(error)


class SalesforceConnection:
    def __init__(self, login_url: str, client_id: str, client_secret: str, *, api_version: str = "62.0",
                 ca_bundle: str | None = None, timeout: float = 30.0, max_attempts: int = 5) -> None:
        self.login_url = login_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self.api_version = api_version
        self.timeout = timeout
        self.session = VerifiedSession(ca_bundle)
        self._access_token: str | None = None
        self.instance_url: str | None = None
        self._send, self._send_answered = (
            retry(retry=retry_if_exception(retryable), wait=wait_exponential_jitter(multiplier=0.2, max=10),
                  stop=stop_after_attempt(max_attempts), reraise=True)(self._send_authenticated)
            for retryable in (_is_retryable, _is_answered_retryable))

    def authenticate(self) -> None:
        response = self.session.post(
            f"{self.login_url}/services/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": self._client_id,
                  "client_secret": self._client_secret},
            timeout=self.timeout,
        )
        if response.status_code != 200:
            raise salesforce_error(response)
        token = response.json()
        self._access_token = token["access_token"]
        self.instance_url = token["instance_url"].rstrip("/")

    def data_path(self, path: str) -> str:
        return f"/services/data/v{self.api_version}{path}"

    def _send_once(self, method: str, path: str, headers: Mapping[str, str], **kwargs: Any) -> requests.Response:
        return self.session.request(
            method, f"{self.instance_url}{path}", timeout=self.timeout,
            headers={"Authorization": f"Bearer {self._access_token}", **headers}, **kwargs,
        )

    def _send_authenticated(self, method: str, path: str, headers: Mapping[str, str],
                            **kwargs: Any) -> requests.Response:
        if self._access_token is None:
            self.authenticate()
        response = self._send_once(method, path, headers, **kwargs)
        if response.status_code == 401 and _is_invalid_session(response):
            self.authenticate()
            response = self._send_once(method, path, headers, **kwargs)
        if response.status_code >= 400:
            raise salesforce_error(response)
        return response

    def request(self, method: str, path: str, *, headers: Mapping[str, str] | None = None,
                safe_to_repeat: bool = True, **kwargs: Any) -> requests.Response:
        """Send a request. An expired session is renewed once and the request sent again; 429
        and 5xx are retried with backoff; business errors raise at once. Dropped connections and
        timeouts are retried too when the request is ``safe_to_repeat`` (a read, an upsert by
        external ID); otherwise they raise, the outcome unknown, for the caller to resolve (a
        second upload makes a Bulk job unusable)."""
        return (self._send if safe_to_repeat else self._send_answered)(method, path, headers or {}, **kwargs)

    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Every record of a SOQL query, following nextRecordsUrl; numbers parsed as Decimal."""
        endpoint = "queryAll" if include_deleted else "query"
        response = self.request("GET", self.data_path(f"/{endpoint}"), params={"q": soql})
        while True:
            page = json.loads(response.content, parse_float=Decimal)
            yield from page.get("records", [])
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            response = self.request("GET", next_url)


def _is_invalid_session(response: requests.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, list) and any(isinstance(item, dict) and item.get("errorCode") == "INVALID_SESSION_ID"
                                          for item in body)


def salesforce_connection_from(settings: Mapping[str, str], **options: Any) -> SalesforceConnection:
    """A connection from the ``SALESFORCE_*`` settings (an env file, or a run's environment)."""
    return SalesforceConnection(settings["SALESFORCE_LOGIN_URL"], settings["SALESFORCE_CLIENT_ID"],
                                settings["SALESFORCE_CLIENT_SECRET"],
                                api_version=settings.get("SALESFORCE_API_VERSION", "62.0"),
                                ca_bundle=settings.get("SALESFORCE_CA_BUNDLE"), **options)
