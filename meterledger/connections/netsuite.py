"""NetSuite SuiteTalk REST connection with Token-Based Authentication (OAuth 1.0a, HMAC-SHA256)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256
from requests_oauthlib import OAuth1
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from meterledger.connections.errors import DestinationError, request_not_sent
from meterledger.http import VerifiedSession

SUITEQL_PAGE_SIZE = 1000

# oauthlib's debug log prints the consumer key and token ID of every request it signs.
for _chatty in ("oauthlib", "requests_oauthlib"):
    logging.getLogger(_chatty).setLevel(logging.INFO)


@dataclass(frozen=True)
class NetSuiteCredentials:
    account_id: str
    consumer_key: str = field(repr=False)
    consumer_secret: str = field(repr=False)
    token_id: str = field(repr=False)
    token_secret: str = field(repr=False)

    @property
    def realm(self) -> str:
        # NetSuite's realm is the account ID upper-cased, sandbox suffix joined by "_".
        return self.account_id.upper().replace("-", "_")


def _is_retryable(error: BaseException) -> bool:
    if isinstance(error, DestinationError):
        return error.retryable
    return isinstance(error, (requests.ConnectionError, requests.Timeout))


def _is_answered_retryable(error: BaseException) -> bool:
    # 429 / 5xx: NetSuite answered and applied nothing; a connection never made sent nothing. A
    # timeout or dropped connection is not here: the write may have been applied, so the caller
    # reads back before sending again.
    return (isinstance(error, DestinationError) and error.retryable) or request_not_sent(error)


def netsuite_error(response: requests.Response) -> DestinationError:
    code, message = "HTTP_ERROR", response.text[:500]
    try:
        body = response.json()
        detail = (body.get("o:errorDetails") or [{}])[0]
        code = detail.get("o:errorCode", code)
        message = detail.get("detail", body.get("title", message))
    except (ValueError, AttributeError):
        pass
    retryable = response.status_code == 429 or response.status_code >= 500
    return DestinationError("NetSuite", response.status_code, code, message, retryable,
                            location=response.headers.get("Location"))


class NetSuiteConnection:
    def __init__(self, base_url: str, credentials: NetSuiteCredentials, *, ca_bundle: str | None = None,
                 timeout: float = 30.0, max_attempts: int = 5) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        self.session = VerifiedSession(ca_bundle)
        self.session.auth = OAuth1(
            credentials.consumer_key,
            client_secret=credentials.consumer_secret,
            resource_owner_key=credentials.token_id,
            resource_owner_secret=credentials.token_secret,
            signature_method=SIGNATURE_HMAC_SHA256,
            realm=credentials.realm,
        )
        self._send, self._send_answered = (
            retry(retry=retry_if_exception(retryable), wait=wait_exponential_jitter(multiplier=0.2, max=10),
                  stop=stop_after_attempt(max_attempts), reraise=True)(self._send_once)
            for retryable in (_is_retryable, _is_answered_retryable))

    def url(self, path: str) -> str:
        return f"{self.base_url}/services/rest{path}"

    def _send_once(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = self.session.request(method, self.url(path), timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            raise netsuite_error(response)
        return response

    def request(self, method: str, path: str, *, safe_to_repeat: bool = True, **kwargs: Any) -> requests.Response:
        """Send with retries on 429 / 5xx (with backoff and jitter); business errors raise at once.

        Timeouts and dropped connections are retried too when the request is ``safe_to_repeat``
        (a read, or a write carrying an idempotency key); otherwise they raise, the outcome
        unknown, for the caller to resolve by reading back."""
        return (self._send if safe_to_repeat else self._send_answered)(method, path, **kwargs)

    def path_of(self, url: str) -> str:
        """The service path of an absolute URL NetSuite returned (a job's Location)."""
        marker = "/services/rest"
        return url[url.index(marker) + len(marker):] if marker in url else url

    def suiteql(self, query: str) -> Iterator[dict[str, Any]]:
        """Every row of a SuiteQL query, page after page."""
        offset = 0
        while True:
            response = self.request(
                "POST", "/query/v1/suiteql",
                params={"limit": SUITEQL_PAGE_SIZE, "offset": offset},
                json={"q": query},
                headers={"Prefer": "transient"},
            )
            page = response.json()
            for row in page.get("items", []):
                row.pop("links", None)  # every SuiteQL row carries an empty HATEOAS list
                yield row
            if not page.get("hasMore"):
                return
            offset += page.get("count") or SUITEQL_PAGE_SIZE


def netsuite_connection_from(settings: Mapping[str, str], **options: Any) -> NetSuiteConnection:
    """A connection from the ``NETSUITE_*`` settings (an env file, or a run's environment)."""
    credentials = NetSuiteCredentials(
        settings["NETSUITE_ACCOUNT_ID"], settings["NETSUITE_CONSUMER_KEY"], settings["NETSUITE_CONSUMER_SECRET"],
        settings["NETSUITE_TOKEN_ID"], settings["NETSUITE_TOKEN_SECRET"])
    return NetSuiteConnection(settings["NETSUITE_BASE_URL"], credentials,
                              ca_bundle=settings.get("NETSUITE_CA_BUNDLE"), **options)
