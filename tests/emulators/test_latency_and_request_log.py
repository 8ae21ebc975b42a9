"""Common emulator controls: added latency (held inside the concurrency gate), the request log with
its count of writes, and the NetSuite async worker delay set at runtime.

The NetSuite server is shared by the whole session: every test leaves the latency at 0 and the
async delay as it found it.
"""
from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Iterator

import pytest
import requests

from emulators.common.server import REQUEST_LOG_SIZE, RequestLog
from emulators.runner import EmulatorStack
from tests.emulators.salesforce_fixtures import (  # noqa: F401 - fixtures
    ACCOUNT_1, LINE_API, SfClient, sf, sf_certificates, sf_factory, sf_seed_file, sf_server,
)

if TYPE_CHECKING:
    from tests.emulators.netsuite_fixtures import NetSuiteClient

pytest_plugins = ["tests.emulators.netsuite_fixtures"]

RECORD = "/services/rest/record/v1"
SUITEQL = "/services/rest/query/v1/suiteql"


def customer(external_id: str) -> dict:
    return {"externalId": external_id, "companyName": f"Company {external_id}", "subsidiary": {"id": "1"}}


def timed(call):
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


@pytest.fixture
def ns(netsuite: NetSuiteClient) -> Iterator[NetSuiteClient]:
    """The shared NetSuite emulator with no latency and an empty request log, latency 0 after."""
    netsuite.control("POST", "latency", {"seconds": 0})
    netsuite.control("DELETE", "requests")
    delay = netsuite.app.jobs.delay
    try:
        yield netsuite
    finally:
        netsuite.control("POST", "latency", {"seconds": 0})
        netsuite.control("POST", "async", {"delay": delay})


@pytest.fixture
def sfc(sf: SfClient) -> Iterator[SfClient]:
    sf.control("POST", "latency", {"seconds": 0})
    try:
        yield sf
    finally:
        sf.control("POST", "latency", {"seconds": 0})


# Latency -----------------------------------------------------------------------------------------
def test_latency_holds_service_requests_but_not_controls(ns: NetSuiteClient) -> None:
    assert ns.control("GET", "latency").json() == {"seconds": 0.0}
    assert ns.control("POST", "latency", {"seconds": 5}).json() == {"seconds": 5.0}
    response, elapsed = timed(lambda: ns.control("GET", "records/currency"))
    assert response.status_code == 200 and elapsed < 2  # controls are never delayed

    assert ns.control("POST", "latency", {"seconds": 0.2}).json() == {"seconds": 0.2}
    assert ns.control("GET", "latency").json() == {"seconds": 0.2}
    response, elapsed = timed(lambda: ns.record("customer", "1"))
    assert response.status_code == 200 and elapsed >= 0.2
    response, elapsed = timed(lambda: ns.suiteql("SELECT id FROM currency"))
    assert response.status_code == 200 and elapsed >= 0.2

    assert ns.control("POST", "latency", {"seconds": 0}).json() == {"seconds": 0.0}
    response, elapsed = timed(lambda: ns.record("customer", "1"))
    assert response.status_code == 200 and elapsed < 0.2


@pytest.mark.parametrize("body", [{"seconds": -1}, {"seconds": "0.1"}, {"seconds": True}, {"seconds": None}])
def test_bad_latency_is_refused_and_changes_nothing(ns: NetSuiteClient, body: dict) -> None:
    ns.control("POST", "latency", {"seconds": 0.01})
    response = ns.control("POST", "latency", body)
    assert response.status_code == 400 and "error" in response.json()
    assert ns.control("GET", "latency").json() == {"seconds": 0.01}


def test_latency_from_the_constructor(netsuite_factory, sf_factory) -> None:
    netsuite = netsuite_factory(latency=0.15)
    assert netsuite.app.latency == 0.15
    response, elapsed = timed(lambda: netsuite.record("customer", "1"))
    assert response.status_code == 200 and elapsed >= 0.15

    salesforce = sf_factory(latency=0.15)
    assert salesforce.control("GET", "latency").json() == {"seconds": 0.15}
    token, elapsed = timed(salesforce.new_token)  # the token endpoint is a service request too
    assert token["access_token"] and elapsed >= 0.15


def test_latency_counts_against_the_concurrency_gate(netsuite_factory) -> None:
    netsuite = netsuite_factory(concurrency_limit=2, latency=0.6)
    results: list[int] = []

    def slow_read() -> None:
        results.append(netsuite.record("customer", "1").status_code)

    threads = [threading.Thread(target=slow_read) for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while netsuite.app._in_flight < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert netsuite.app._in_flight == 2  # both held by the latency, each holding its slot

    response, elapsed = timed(lambda: netsuite.suiteql("SELECT id FROM currency"))
    assert response.status_code == 429, response.text
    assert response.json()["o:errorDetails"][0]["o:errorCode"] == "CONCURRENCY_LIMIT_EXCEEDED"
    assert elapsed < 0.6  # refused at once: a request over the limit holds no slot
    for thread in threads:
        thread.join()
    assert results == [200, 200]
    log = netsuite.control("GET", "requests").json()
    assert sorted(entry["status"] for entry in log["requests"]) == [200, 200, 429]


def test_latency_bounds_the_request_rate(netsuite_factory) -> None:
    # 2 slots, 0.1 s each: 8 requests from 2 workers need at least 4 rounds, and none is refused.
    netsuite = netsuite_factory(concurrency_limit=2, latency=0.1)
    statuses: list[int] = []

    def worker() -> None:
        for _ in range(4):
            statuses.append(netsuite.record("customer", "1").status_code)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - start >= 0.4
    assert statuses == [200] * 8


# Request log -------------------------------------------------------------------------------------
def test_netsuite_request_log_counts_writes(ns: NetSuiteClient) -> None:
    external_id = ns.unique("LOG")
    assert ns.suiteql("SELECT id FROM currency").status_code == 200                     # POST, a read
    assert ns.record("customer", "1").status_code == 200                                 # GET
    assert ns.request("PUT", f"{RECORD}/customer/eid:{external_id}",
                      json_body=customer(external_id)).status_code == 204                # upsert: a write
    assert ns.request("PATCH", f"{RECORD}/customer/999999",
                      json_body={"companyName": "x"}).status_code == 404                 # a refused write
    ns.arm_fault(kind="status", status=503, path_contains="/suiteql")
    assert ns.suiteql("SELECT id FROM currency").status_code == 503                     # a fault is logged
    ns.control("GET", "records/currency")                                                # controls are not

    log = ns.control("GET", "requests").json()
    assert log["requests"] == [
        {"method": "POST", "path": SUITEQL, "status": 200, "write": False},
        {"method": "GET", "path": f"{RECORD}/customer/1", "status": 200, "write": False},
        {"method": "PUT", "path": f"{RECORD}/customer/eid:{external_id}", "status": 204, "write": True},
        {"method": "PATCH", "path": f"{RECORD}/customer/999999", "status": 404, "write": True},
        {"method": "POST", "path": SUITEQL, "status": 503, "write": False},
    ]
    assert log["writes"] == 2

    assert ns.control("DELETE", "requests").json() == {"requests": [], "writes": 0}
    assert ns.control("GET", "requests").json() == {"requests": [], "writes": 0}
    assert ns.create("customer", customer(ns.unique("LOG"))).status_code == 204          # POST create: a write
    assert ns.control("GET", "requests").json()["writes"] == 1


def test_dropped_request_is_logged_without_a_status(ns: NetSuiteClient) -> None:
    ns.arm_fault(kind="drop", method="DELETE")
    with pytest.raises(requests.ConnectionError):
        ns.request("DELETE", f"{RECORD}/customer/999999")
    assert ns.control("GET", "requests").json() == {
        "requests": [{"method": "DELETE", "path": f"{RECORD}/customer/999999", "status": None, "write": True}],
        "writes": 1,
    }


def test_request_log_is_bounded_but_the_write_count_is_not(netsuite_factory) -> None:
    netsuite = netsuite_factory()
    netsuite.app.requests = RequestLog(size=3)  # a small window, to see the bound
    for _ in range(4):
        assert netsuite.request("PATCH", f"{RECORD}/customer/999999", json_body={}).status_code == 404
    body = netsuite.control("GET", "requests").json()
    assert len(body["requests"]) == 3 and body["writes"] == 4


def test_request_log_keeps_the_last_100000_by_default(ns: NetSuiteClient) -> None:
    assert REQUEST_LOG_SIZE == 100_000 and ns.app.requests._entries.maxlen == REQUEST_LOG_SIZE


def test_salesforce_request_log_counts_writes(sfc: SfClient) -> None:
    sfc.control("DELETE", "requests")
    sfc.new_token()                                                                       # POST token: a read
    assert sfc.query("SELECT Id FROM Account").status_code == 200
    record = {"attributes": {"type": "Usage_Summary__c"}, "External_Id__c": "US-LOG-1", "Account__c": ACCOUNT_1,
              "Contract_Line__c": LINE_API, "Meter__c": "api_calls", "Period_Start__c": "2026-10-01",
              "Period_End__c": "2026-10-31", "Quantity__c": Decimal("1"), "Amount__c": Decimal("0.5")}
    composite = "/composite/sobjects/Usage_Summary__c/External_Id__c"
    response = sfc.patch(composite, {"allOrNone": False, "records": [record]})
    assert response.status_code == 200 and response.json()[0]["success"], response.text

    log = sfc.control("GET", "requests").json()
    assert [(entry["method"], entry["path"], entry["status"], entry["write"]) for entry in log["requests"]] == [
        ("POST", "/services/oauth2/token", 200, False),
        ("GET", "/services/data/v62.0/query", 200, False),
        ("PATCH", f"/services/data/v62.0{composite}", 200, True),
    ]
    assert log["writes"] == 1
    assert sfc.control("DELETE", "requests").json() == {"requests": [], "writes": 0}


# NetSuite async worker delay ---------------------------------------------------------------------
def test_async_delay_is_set_at_runtime(netsuite_factory) -> None:
    netsuite = netsuite_factory(async_delay=30)  # a job would wait 30 s without the control
    assert netsuite.control("POST", "async", {}).json() == {"paused": False, "delay": 30.0}
    assert netsuite.control("POST", "async", {"delay": 0.05}).json() == {"paused": False, "delay": 0.05}
    for bad in ({"delay": -1}, {"delay": "1"}, {"delay": True}):
        assert netsuite.control("POST", "async", bad).status_code == 400
    assert netsuite.app.jobs.delay == 0.05

    external_id = netsuite.unique("ADELAY")
    response = netsuite.create("customer", customer(external_id), headers={"Prefer": "respond-async"})
    assert response.status_code == 202, response.text
    job = netsuite.wait_job(response.headers["Location"], timeout=5)
    assert job["completed"] is True and job["progress"] == "succeeded"
    log = netsuite.control("GET", "requests").json()
    assert log["requests"][0] == {"method": "POST", "path": f"{RECORD}/customer", "status": 202, "write": True}


def test_emulator_stack_passes_latency_and_async_delay(tmp_path) -> None:
    default = EmulatorStack(state_dir=tmp_path / "default")
    assert default.netsuite.latency == 0.0 and default.salesforce.latency == 0.0
    assert default.netsuite.jobs.delay == 0.1
    stack = EmulatorStack(state_dir=tmp_path / "slow", latency=0.05, netsuite_async_delay=0.3)
    assert stack.netsuite.latency == 0.05 and stack.salesforce.latency == 0.05
    assert stack.netsuite.jobs.delay == 0.3
