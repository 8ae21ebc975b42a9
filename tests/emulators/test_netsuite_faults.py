"""Governance (concurrency limit) and the fault hooks: 429, 500, dropped connection, and a
response held back after the write was applied."""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest
import requests

if TYPE_CHECKING:
    from tests.emulators.netsuite_fixtures import NetSuiteClient

pytest_plugins = ["tests.emulators.netsuite_fixtures"]

RECORD = "/services/rest/record/v1"


def customer(external_id: str) -> dict:
    return {"externalId": external_id, "companyName": f"Company {external_id}", "subsidiary": {"id": "1"}}


def exists(netsuite: NetSuiteClient, external_id: str) -> bool:
    return bool(netsuite.rows(f"SELECT id FROM customer WHERE externalid = '{external_id}'"))


def assert_netsuite_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    assert body["o:errorDetails"][0]["o:errorCode"] == code
    assert "type" in body and "title" in body


def test_over_the_concurrency_limit_is_429_without_retry_after(netsuite_factory) -> None:
    netsuite = netsuite_factory(concurrency_limit=2)
    netsuite.arm_fault(kind="delay_before", delay=1.5, method="GET", count=2)
    results: list[int] = []

    def slow_read() -> None:
        results.append(netsuite.record("customer", "1").status_code)

    threads = [threading.Thread(target=slow_read) for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while netsuite.app._in_flight < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert netsuite.app._in_flight == 2

    external_id = netsuite.unique("GOV")
    response = netsuite.create("customer", customer(external_id))
    assert_netsuite_error(response, 429, "CONCURRENCY_LIMIT_EXCEEDED")
    assert "Retry-After" not in response.headers
    for thread in threads:
        thread.join()
    assert results == [200, 200]
    assert not exists(netsuite, external_id)
    assert netsuite.create("customer", customer(external_id)).status_code == 204  # capacity is back


def test_default_concurrency_limit_is_five(netsuite_factory) -> None:
    assert netsuite_factory().app.concurrency_limit == 5


def test_injected_429_applies_nothing(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("F429")
    netsuite.arm_fault(kind="status", status=429, method="POST", path_contains="/record/v1/customer", count=2)
    for _ in range(2):
        response = netsuite.create("customer", customer(external_id))
        assert_netsuite_error(response, 429, "CONCURRENCY_LIMIT_EXCEEDED")
        assert "Retry-After" not in response.headers
    assert not exists(netsuite, external_id)
    assert netsuite.create("customer", customer(external_id)).status_code == 204  # the third goes through
    assert exists(netsuite, external_id)


def test_injected_500_applies_nothing(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("F500")
    netsuite.arm_fault(kind="status", status=500, method="POST", path_contains="/record/v1/customer")
    assert_netsuite_error(netsuite.create("customer", customer(external_id)), 500, "UNEXPECTED_ERROR")
    assert not exists(netsuite, external_id)


def test_injected_fault_can_name_its_error_code(netsuite: NetSuiteClient) -> None:
    netsuite.arm_fault(kind="status", status=503, error_code="SERVICE_UNAVAILABLE", path_contains="/suiteql")
    response = netsuite.suiteql("SELECT id FROM currency")
    assert_netsuite_error(response, 503, "SERVICE_UNAVAILABLE")


def test_dropped_connection_applies_nothing(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("DROP")
    netsuite.arm_fault(kind="drop", method="POST", path_contains="/record/v1/customer")
    with pytest.raises(requests.ConnectionError):
        netsuite.create("customer", customer(external_id))
    assert not exists(netsuite, external_id)


def test_connection_dropped_after_the_write_was_applied(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("LOST")
    path = f"{RECORD}/customer/eid:{external_id}"
    netsuite.control("DELETE", "requests")
    netsuite.arm_fault(kind="drop_after_apply", method="PUT", path_contains="/record/v1/customer")
    with pytest.raises(requests.ConnectionError):
        netsuite.request("PUT", path, json_body=customer(external_id))
    stored = netsuite.record("customer", f"eid:{external_id}")
    assert stored.status_code == 200 and stored.json()["companyName"] == f"Company {external_id}"
    log = netsuite.control("GET", "requests").json()
    assert log["requests"][0] == {"method": "PUT", "path": path, "status": None, "write": True}
    assert log["writes"] == 1


def test_response_delayed_after_the_write_was_applied(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("LATE")
    netsuite.arm_fault(kind="delay_after_apply", delay=1.5, method="PUT", path_contains="/record/v1/customer")
    with pytest.raises(requests.Timeout):
        netsuite.request("PUT", f"{RECORD}/customer/eid:{external_id}", json_body=customer(external_id),
                         timeout=0.5)
    assert netsuite.record("customer", f"eid:{external_id}").status_code == 200
    # the client's retry of the upsert finds the record and makes no second one
    response = netsuite.request("PUT", f"{RECORD}/customer/eid:{external_id}", json_body=customer(external_id))
    assert response.status_code == 204
    assert len(netsuite.rows(f"SELECT id FROM customer WHERE externalid = '{external_id}'")) == 1


def test_faults_are_consumed_only_by_matching_requests(netsuite: NetSuiteClient) -> None:
    netsuite.arm_fault(kind="status", status=500, method="DELETE")
    assert netsuite.record("customer", "1").status_code == 200
    assert netsuite.control("DELETE", "faults").json() == {"pending": 0}
