"""Which failures the ingestion and sync steps retry, and how long they wait."""
from __future__ import annotations

import duckdb
import requests

from dagster_defs.retries import INGESTION_RETRY, is_transient, retry_later
from meterledger.connections.errors import DestinationError


def _raised_from(cause: BaseException) -> Exception:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise RuntimeError("pipeline step failed") from inner
    except RuntimeError as outer:
        return outer


def test_connection_problems_retryable_answers_and_a_locked_warehouse_are_transient():
    assert is_transient(_raised_from(requests.ConnectionError("refused")))
    assert is_transient(_raised_from(requests.Timeout("slow")))
    assert is_transient(_raised_from(DestinationError("netsuite", 503, "UNAVAILABLE", "down", retryable=True)))
    assert is_transient(_raised_from(duckdb.IOException("Could not set lock on file: Conflicting lock")))


def test_business_errors_and_bugs_are_not_retried():
    assert not is_transient(_raised_from(DestinationError("netsuite", 400, "USER_ERROR", "bad field", retryable=False)))
    assert not is_transient(_raised_from(ValueError("watermark needs 'source'")))
    assert not is_transient(KeyError("column"))


def test_the_wait_grows_exponentially_with_each_retry_within_the_jitter():
    delay = INGESTION_RETRY.delay
    for retry_number in range(3):
        request = retry_later(retry_number, INGESTION_RETRY)
        assert request.max_retries == INGESTION_RETRY.max_retries
        base = (2 ** (retry_number + 1) - 1) * delay  # 15 s, 45 s, 105 s
        assert base - delay <= request.seconds_to_wait <= base + delay
