"""Errors a destination returned, carrying its own message so it can be logged or dead-lettered."""
from __future__ import annotations


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
