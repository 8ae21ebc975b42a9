"""Retry policies of the steps that talk to the outside: the ingestion and sync assets.

The clients already retry single requests (tenacity, with backoff and jitter); these policies
retry the whole step when a source or destination stays unreachable for longer, or when another
process holds the warehouse's write lock. A step is safe to run again: dlt finishes or discards
an interrupted load and loads incrementally, and a sync resumes from its ledger."""

import duckdb
import requests
from dagster import Backoff, Jitter, RetryPolicy, RetryRequested

from meterledger.connections.errors import DestinationError

INGESTION_RETRY = RetryPolicy(max_retries=3, delay=15, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)
SYNC_RETRY = RetryPolicy(max_retries=2, delay=30, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)


def is_transient(error: BaseException) -> bool:
    """Whether an error (or any error it was raised from) can pass by itself: a connection
    problem, a destination's retryable answer (429, 5xx), the warehouse locked by a writer."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (requests.ConnectionError, requests.Timeout)):
            return True
        if isinstance(error, DestinationError) and error.retryable:
            return True
        if isinstance(error, duckdb.IOException) and "lock" in str(error).lower():
            return True
        error = error.__cause__ or error.__context__
    return False


def retry_later(retry_number: int, policy: RetryPolicy) -> RetryRequested:
    """The RetryRequested that runs a step again under ``policy``, ``retry_number`` retries in
    (multi-assets made by integrations take no retry policy: their bodies ask for the retry),
    waiting what Dagster's own policy would for that attempt."""
    return RetryRequested(max_retries=policy.max_retries,
                          seconds_to_wait=max(0.0, policy.calculate_delay(retry_number + 1)))
