"""The daily API limit (Sforce-Limit-Info, REQUEST_LIMIT_EXCEEDED) and the fault hooks."""
from __future__ import annotations

import time

import pytest
import requests

from emulators.common.http import dumps

from tests.emulators.salesforce_fixtures import (  # noqa: F401 - fixtures
    CLIENT_ID, SfClient, assert_error, sf, sf_certificates, sf_factory, sf_seed_file, sf_server,
)


def usage(response: requests.Response) -> tuple[int, int]:
    header = response.headers["Sforce-Limit-Info"]
    assert header.startswith("api-usage=")
    used, maximum = header.split("=", 1)[1].split("/")
    return int(used), int(maximum)


def test_limit_header_on_every_response(sf: SfClient) -> None:
    responses = [
        sf.get("/limits"),
        sf.query("SELECT Id FROM Account"),
        sf.query("SELECT Nope FROM Account"),                       # 400
        sf.get("/sobjects/Account/001Em0000000zzzAAA"),              # 404
        sf.get("/no/such/resource"),                                 # 404 route
        sf.patch("/sobjects/Account/Customer_Key__c/C-HDR", {"Name": "Header"}),
        sf.post("/jobs/ingest", {"object": "Account", "operation": "insert"}),
        sf.session.post(f"{sf.base_url}/services/oauth2/token", timeout=10,
                        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "x"}),
    ]
    counts = [usage(response) for response in responses]
    assert [maximum for _, maximum in counts] == [100_000] * len(counts)
    used = [count for count, _ in counts[:-1]]
    assert used == list(range(1, len(used) + 1))  # each API call counted once, in order
    assert counts[-1][0] == used[-1]              # the token endpoint is not an API call
    limits = sf.get("/limits").json()["DailyApiRequests"]
    assert limits == {"Max": 100_000, "Remaining": 100_000 - len(used) - 1}


def test_request_limit_exceeded(sf: SfClient) -> None:
    sf.control("POST", "api-usage", {"used": 99_998})
    first = sf.patch("/sobjects/Account/Customer_Key__c/C-LIM-1", {"Name": "One"})
    assert first.status_code == 201 and usage(first) == (99_999, 100_000)
    second = sf.patch("/sobjects/Account/Customer_Key__c/C-LIM-2", {"Name": "Two"})
    assert second.status_code == 201 and usage(second) == (100_000, 100_000)
    third = sf.patch("/sobjects/Account/Customer_Key__c/C-LIM-3", {"Name": "Three"})
    body = assert_error(third, 403, "REQUEST_LIMIT_EXCEEDED")
    assert "TotalRequests" in body["message"]
    assert usage(third) == (100_000, 100_000)
    assert sf.record_by("Account", "Customer_Key__c", "C-LIM-3") == []
    assert_error(sf.query("SELECT Id FROM Account"), 403, "REQUEST_LIMIT_EXCEEDED")
    assert len(sf.record_by("Account", "Customer_Key__c", "C-LIM-1")) == 1
    # raising the limit (a new day, in effect) lets calls through again
    sf.control("POST", "api-usage", {"used": 0})
    assert sf.query("SELECT Id FROM Account").status_code == 200


def test_limit_from_the_constructor(sf_factory) -> None:
    client = sf_factory(daily_api_limit=3).login()
    assert [client.get("/limits").status_code for _ in range(4)] == [200, 200, 200, 403]


def test_unable_to_lock_row_fault_writes_nothing(sf: SfClient) -> None:
    sf.arm(kind="status", status=400, error_code="UNABLE_TO_LOCK_ROW", method="PATCH", path_contains="/sobjects/")
    response = sf.patch("/sobjects/Account/Customer_Key__c/C-LOCK", {"Name": "Locked"})
    assert response.status_code == 400
    assert response.json() == [{"message": "unable to obtain exclusive access to this record",
                                "errorCode": "UNABLE_TO_LOCK_ROW", "fields": []}]
    assert "Sforce-Limit-Info" in response.headers
    assert sf.record_by("Account", "Customer_Key__c", "C-LOCK") == []
    assert sf.patch("/sobjects/Account/Customer_Key__c/C-LOCK", {"Name": "Locked"}).status_code == 201  # one-shot


def test_503_fault(sf: SfClient) -> None:
    sf.arm(kind="status", status=503, path_contains="/composite/", count=2)
    payload = {"records": [{"attributes": {"type": "Account"}, "Name": "Busy", "Customer_Key__c": "C-503"}]}
    for _ in range(2):
        assert_error(sf.patch("/composite/sobjects/Account/Customer_Key__c", payload), 503, "SERVER_UNAVAILABLE")
    assert sf.record_by("Account", "Customer_Key__c", "C-503") == []
    assert sf.patch("/composite/sobjects/Account/Customer_Key__c", payload).json()[0]["success"] is True


def test_delay_before_serving(sf: SfClient) -> None:
    sf.arm(kind="delay_before", delay=0.6, path_contains="/query")
    started = time.monotonic()
    assert sf.query("SELECT Id FROM Account").status_code == 200
    assert time.monotonic() - started >= 0.6


def test_delay_after_apply_times_out_but_the_write_happened(sf: SfClient) -> None:
    sf.arm(kind="delay_after_apply", delay=1.5, method="PATCH")
    with pytest.raises(requests.exceptions.ReadTimeout):
        sf.patch("/sobjects/Account/Customer_Key__c/C-SLOW", {"Name": "Slow"}, timeout=0.5)
    assert len(sf.record_by("Account", "Customer_Key__c", "C-SLOW")) == 1
    # the retry is an update of the same record, not a duplicate
    retry = sf.patch("/sobjects/Account/Customer_Key__c/C-SLOW", {"Name": "Slow"})
    assert retry.status_code == 200 and retry.json()["created"] is False


def test_dropped_connection_writes_nothing(sf: SfClient) -> None:
    sf.arm(kind="drop", method="POST", path_contains="/sobjects/Account")
    with pytest.raises(requests.exceptions.ConnectionError):
        sf.post("/sobjects/Account", {"Name": "Dropped", "Customer_Key__c": "C-DROP"})
    assert sf.record_by("Account", "Customer_Key__c", "C-DROP") == []
    assert sf.post("/sobjects/Account", {"Name": "Dropped", "Customer_Key__c": "C-DROP"}).status_code == 201


def test_connection_dropped_after_the_collections_upsert_was_applied(sf: SfClient) -> None:
    sf.arm(kind="drop_after_apply", method="PATCH", path_contains="/composite/sobjects/Account")
    payload = {"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "Name": "Lost answer", "Customer_Key__c": "C-LOST"}]}
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.patch(sf.url("/composite/sobjects/Account/Customer_Key__c"), data=dumps(payload), timeout=10,
                       headers={"Authorization": f"Bearer {sf.token}", "Content-Type": "application/json"},
                       verify=str(sf.ca_bundle))
    stored = sf.record_by("Account", "Customer_Key__c", "C-LOST")
    assert [record["Name"] for record in stored] == ["Lost answer"]
    assert sf.control("GET", "requests").json()["requests"][-1] == {
        "method": "PATCH", "path": "/services/data/v62.0/composite/sobjects/Account/Customer_Key__c",
        "status": None, "write": True}
    # the client's retry updates the stored record, it makes no second one
    retry = sf.patch("/composite/sobjects/Account/Customer_Key__c", payload)
    assert retry.json()[0]["created"] is False
    assert len(sf.record_by("Account", "Customer_Key__c", "C-LOST")) == 1


def test_expired_session_fault(sf: SfClient) -> None:
    sf.arm(kind="status", status=401)
    response = sf.get("/limits")
    assert response.status_code == 401
    assert response.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
