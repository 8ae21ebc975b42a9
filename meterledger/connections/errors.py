"""Errors a destination returned, carrying its own message so it can be logged or dead-lettered,
and what a transport error says about whether a request reached the destination."""
from __future__ import annotations

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError


class DestinationError(Exception):
    """A request the destination answered with an error.

    ``code`` is the destination's error code (``USER_ERROR``, ``INVALID_SESSION_ID``, ...);
    ``retryable`` says whether sending the same request later can succeed.
    """

    def __init__(self, system: str, status: int, code: str, message: str, retryable: bool,
                 location: str | None = None) -> None:
        super().__init__(f"{system} answered {status} {code}: {message}")
        self.system = system
        self.status = status
        self.code = code
        self.message = message
        self.retryable = retryable
        # NetSuite points an IDEMPOTENCY_ERROR at the job the key first created.
        self.location = location


def request_not_sent(error: BaseException) -> bool:
    """True when a transport error proves the request never reached the destination: no
    connection was made (refused, or timed out while connecting). A reset or a timeout while
    waiting for the answer proves nothing: the destination may have applied the request."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if not isinstance(error, requests.ConnectionError) or isinstance(error, requests.exceptions.SSLError):
        return False
    reason = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))
