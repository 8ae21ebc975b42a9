"""Salesforce REST connection: OAuth 2.0 client credentials, one re-authentication on expiry."""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Iterator, Mapping

import requests

from meterledger.connections.errors import DestinationError
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
    retryable = response.status_code >= 500 or code == "UNABLE_TO_LOCK_ROW"
    return DestinationError("Salesforce", response.status_code, code, message, retryable)


class SalesforceConnection:
    def __init__(self, login_url: str, client_id: str, client_secret: str, *, api_version: str = "62.0",
                 ca_bundle: str | None = None, timeout: float = 30.0) -> None:
        self.login_url = login_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self.api_version = api_version
        self.timeout = timeout
        self.session = VerifiedSession(ca_bundle)
        self._access_token: str | None = None
        self.instance_url: str | None = None

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

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send a request; an expired session is renewed once, then the error is raised."""
        if self._access_token is None:
            self.authenticate()
        for attempt in (1, 2):
            response = self.session.request(
                method, f"{self.instance_url}{path}", timeout=self.timeout,
                headers={"Authorization": f"Bearer {self._access_token}", **kwargs.pop("headers", {})},
                **kwargs,
            )
            if response.status_code == 401 and attempt == 1 and _is_invalid_session(response):
                self.authenticate()
                continue
            if response.status_code >= 400:
                raise salesforce_error(response)
            return response
        raise AssertionError("unreachable")

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
    return isinstance(body, list) and any(item.get("errorCode") == "INVALID_SESSION_ID" for item in body)


def salesforce_connection_from(settings: Mapping[str, str], **options: Any) -> SalesforceConnection:
    """A connection from the ``SALESFORCE_*`` settings (an env file, or a run's environment)."""
    return SalesforceConnection(settings["SALESFORCE_LOGIN_URL"], settings["SALESFORCE_CLIENT_ID"],
                                settings["SALESFORCE_CLIENT_SECRET"],
                                api_version=settings.get("SALESFORCE_API_VERSION", "62.0"),
                                ca_bundle=settings.get("SALESFORCE_CA_BUNDLE"), **options)
