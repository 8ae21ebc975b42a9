"""What a failed request says about the records it carried: the one place that classifies.

* ``failed``: the destination refused this record (a 4xx answer to a request carrying it alone,
  or its own line in a per-record answer). Only this counts toward ``max_attempts``.
* ``retry``: not done, safe to send again: 429 and 5xx (answered, nothing applied), a connection
  that was never made, and any error of a whole request or job carrying several records, or of
  the account (401, 403): those say nothing about one record, so they never dead-letter it.
* ``unknown``: the request may have been applied and its answer was lost (a reset, a timeout
  while waiting): the engine reads the records back before anything is sent again.
"""
from __future__ import annotations

import requests

from meterledger.connections.errors import DestinationError, request_not_sent
from reverse_etl.protocol import OutcomeStatus

# What a request can raise once its connection has given up retrying.
REQUEST_ERRORS = (DestinationError, requests.ConnectionError, requests.Timeout)
ACCOUNT_STATUSES = (401, 403)  # credentials, permissions, allowances: about the account, not a record


def describe(error: BaseException) -> str:
    if isinstance(error, DestinationError):
        return f"{error.code}: {error.message}"
    return f"{type(error).__name__}: {error}"


def classify(error: BaseException, *, one_record: bool) -> OutcomeStatus:
    """The outcome of the records a write request carried, when it raised ``error``.
    ``one_record``: the request carried one record and its answer is about that record."""
    if isinstance(error, DestinationError):
        if error.retryable or error.status in ACCOUNT_STATUSES or not one_record:
            return "retry"
        return "failed"
    if request_not_sent(error):
        return "retry"
    return "unknown"
