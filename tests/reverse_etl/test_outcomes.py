"""The one classification of failed requests: refused for this record (counts toward
dead-lettering), not done and safe to resend, or outcome unknown (read back first). Transport
errors are real ones, raised by requests against loopback sockets."""
from __future__ import annotations

import socket
import threading

import pytest
import requests

from meterledger.connections.errors import DestinationError, request_not_sent
from reverse_etl.outcomes import classify, describe


def _answer(status: int, code: str, retryable: bool) -> DestinationError:
    return DestinationError("NetSuite", status, code, "the destination's own words", retryable)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


def _connection_refused() -> requests.ConnectionError:
    with pytest.raises(requests.ConnectionError) as raised:
        requests.post(f"http://127.0.0.1:{_closed_port()}/record", data=b"{}", timeout=2)
    return raised.value


def _answer_lost() -> requests.ConnectionError:
    """A server that reads the whole request, then closes without answering."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve() -> None:
        connection, _ = server.accept()
        connection.recv(65536)
        connection.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with pytest.raises(requests.ConnectionError) as raised:
            requests.post(f"http://127.0.0.1:{server.getsockname()[1]}/record", data=b"{}", timeout=5)
    finally:
        thread.join()
        server.close()
    return raised.value


def _answer_too_slow() -> requests.ReadTimeout:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        with pytest.raises(requests.ReadTimeout) as raised:
            requests.post(f"http://127.0.0.1:{server.getsockname()[1]}/record", data=b"{}", timeout=0.3)
    finally:
        server.close()
    return raised.value


def test_a_refusal_of_a_request_carrying_one_record_refuses_that_record():
    for status, code in ((400, "USER_ERROR"), (404, "NOT_FOUND"), (409, "CONFLICT")):
        assert classify(_answer(status, code, retryable=False), one_record=True) == "failed"


def test_errors_of_a_whole_request_or_of_the_account_never_refuse_a_record():
    # Several records in the request (a batch, a Collections call, a Bulk job): not about one of them.
    assert classify(_answer(400, "INVALID_FIELD", retryable=False), one_record=False) == "retry"
    # Credentials and permissions are the account's, even on a one-record request.
    assert classify(_answer(401, "INVALID_LOGIN", retryable=False), one_record=True) == "retry"
    assert classify(_answer(403, "INSUFFICIENT_PERMISSION", retryable=False), one_record=True) == "retry"


def test_rate_limits_and_server_errors_are_not_done_and_safe_to_resend():
    assert classify(_answer(429, "CONCURRENCY_LIMIT_EXCEEDED", retryable=True), one_record=True) == "retry"
    assert classify(_answer(503, "SERVER_UNAVAILABLE", retryable=True), one_record=True) == "retry"


def test_a_connection_never_made_sent_nothing():
    error = _connection_refused()
    assert request_not_sent(error)
    assert classify(error, one_record=True) == "retry"


def test_a_lost_or_late_answer_leaves_the_outcome_unknown():
    for error in (_answer_lost(), _answer_too_slow()):
        assert not request_not_sent(error)
        assert classify(error, one_record=True) == "unknown"
        assert classify(error, one_record=False) == "unknown"


def test_the_message_names_the_destination_s_code_and_words():
    assert describe(_answer(400, "USER_ERROR", retryable=False)) == "USER_ERROR: the destination's own words"
    assert describe(_connection_refused()).startswith("ConnectionError: ")
