"""Asynchronous requests, idempotency keys and collection (batch) requests."""
from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.emulators.netsuite_fixtures import NetSuiteClient

pytest_plugins = ["tests.emulators.netsuite_fixtures"]

RECORD = "/services/rest/record/v1"
COLLECTION = "application/vnd.oracle.resource+json; type=collection"


def customer(external_id: str, **fields) -> dict:
    return {"externalId": external_id, "companyName": f"Company {external_id}", "subsidiary": {"id": "1"}, **fields}


def usage(external_id: str, **fields) -> dict:
    return {"externalId": external_id, "usageSubscription": {"id": "400"}, "usageSubscriptionLine": {"id": "500"},
            "usageQuantity": Decimal("3"), "usageDate": "2026-10-09", **fields}


def accepted_job(netsuite: NetSuiteClient, response) -> str:
    assert response.status_code == 202, response.text
    assert response.headers["Preference-Applied"] == "respond-async"
    location = response.headers["Location"]
    assert location.startswith(f"{netsuite.base_url}/services/rest/async/v1/job/"), location
    return location


def external_ids(netsuite: NetSuiteClient, table: str, prefix: str) -> list[str]:
    rows = netsuite.rows(f"SELECT externalid FROM {table} WHERE externalid LIKE '{prefix}%' ORDER BY externalid")
    return [row["externalid"] for row in rows]


def test_async_job_lifecycle(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("ASYNC")
    netsuite.control("POST", "async", {"paused": True})
    response = netsuite.create("customer", customer(external_id), headers={"Prefer": "respond-async"})
    location = accepted_job(netsuite, response)
    assert response.content == b""

    job = netsuite.session.get(location, auth=netsuite.auth(), timeout=10).json()
    assert job["completed"] is False and job["progress"] == "pending"
    assert job["links"][0]["href"] == location
    assert netsuite.record("customer", f"eid:{external_id}").status_code == 404

    netsuite.control("POST", "async", {"paused": False})
    job = netsuite.wait_job(location)
    assert job["completed"] is True and job["progress"] == "succeeded"
    tasks = netsuite.session.get(job["task"]["links"][0]["href"], auth=netsuite.auth(), timeout=10).json()
    assert tasks["count"] == 1
    task = netsuite.session.get(tasks["items"][0]["links"][0]["href"], auth=netsuite.auth(), timeout=10).json()
    assert task["completed"] is True and task["progress"] == "succeeded"
    [result] = netsuite.task_results(location)
    assert result.status_code == 204
    internal_id = result.headers["Location"].rsplit("/", 1)[-1]
    assert netsuite.record("customer", internal_id).json()["externalId"] == external_id


def test_async_job_records_a_failed_task(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("ASYNC")
    response = netsuite.create("usage", usage(external_id, customer={"id": "2"}), headers={"Prefer": "respond-async"})
    job = netsuite.wait_job(accepted_job(netsuite, response))
    assert job["completed"] is True and job["progress"] == "failed"
    [result] = netsuite.task_results(response.headers["Location"])
    assert result.status_code == 400
    detail = result.json()["o:errorDetails"][0]
    assert detail["o:errorCode"] == "USER_ERROR" and detail["o:errorPath"] == "customer"
    assert netsuite.record("usage", f"eid:{external_id}").status_code == 404


def test_reused_idempotency_key_is_a_conflict_pointing_at_the_original_job(netsuite: NetSuiteClient) -> None:
    key = str(uuid.uuid4())
    first, second = netsuite.unique("IDEM"), netsuite.unique("IDEM")
    headers = {"Prefer": "respond-async", "X-NetSuite-Idempotency-Key": key}
    netsuite.control("POST", "async", {"paused": True})
    original = accepted_job(netsuite, netsuite.create("customer", customer(first), headers=headers))

    again = netsuite.create("customer", customer(second), headers=headers)
    assert again.status_code == 400, again.text
    body = again.json()
    assert body["title"] == "Conflict" and body["status"] == 400
    assert body["o:errorDetails"][0]["o:errorCode"] == "IDEMPOTENCY_ERROR"
    assert again.headers["Location"] == original

    netsuite.control("POST", "async", {"paused": False})
    assert netsuite.wait_job(original)["progress"] == "succeeded"
    # and after the job ran, the key still points at it
    late = netsuite.create("customer", customer(second), headers=headers)
    assert late.status_code == 400 and late.headers["Location"] == original
    assert netsuite.record("customer", f"eid:{first}").status_code == 200
    assert netsuite.record("customer", f"eid:{second}").status_code == 404
    assert netsuite.rows(f"SELECT id FROM customer WHERE externalid = '{second}'") == []


def test_idempotency_key_is_ignored_on_synchronous_requests(netsuite: NetSuiteClient) -> None:
    headers = {"X-NetSuite-Idempotency-Key": str(uuid.uuid4())}
    first, second = netsuite.unique("SYNC"), netsuite.unique("SYNC")
    assert netsuite.create("customer", customer(first), headers=headers).status_code == 204
    assert netsuite.create("customer", customer(second), headers=headers).status_code == 204
    assert netsuite.record("customer", f"eid:{second}").status_code == 200


def test_async_upsert_by_external_id(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("ASYNC")
    response = netsuite.request("PUT", f"{RECORD}/customer/eid:{external_id}", headers={"Prefer": "respond-async"},
                                json_body={"companyName": "Async", "subsidiary": {"id": "1"}})
    assert netsuite.wait_job(accepted_job(netsuite, response))["progress"] == "succeeded"
    assert netsuite.record("customer", f"eid:{external_id}").json()["companyName"] == "Async"


# Collections -------------------------------------------------------------------------------------

def batch(netsuite: NetSuiteClient, method: str, record_type: str, items: list[dict], *,
          prefer: str | None = "respond-async", **kwargs):
    headers = {"Content-Type": COLLECTION, **({"Prefer": prefer} if prefer else {})}
    return netsuite.request(method, f"{RECORD}/{record_type}", json_body={"items": items}, headers=headers,
                            **kwargs)


def test_batch_post_has_one_task_and_result_per_item(netsuite: NetSuiteClient) -> None:
    prefix = netsuite.unique("BATCH")
    items = [usage(f"{prefix}-0"), usage(f"{prefix}-1", usageSubscriptionLine={"id": "502"}), usage(f"{prefix}-2")]
    location = accepted_job(netsuite, batch(netsuite, "POST", "usage", items))
    job = netsuite.wait_job(location)
    assert job["completed"] is True and job["progress"] == "failed"
    results = netsuite.task_results(location)
    assert [result.status_code for result in results] == [204, 400, 204]
    assert results[1].json()["o:errorDetails"][0]["o:errorPath"] == "usageSubscriptionLine"
    assert all(results[i].headers["Location"].startswith(f"{netsuite.base_url}{RECORD}/usage/") for i in (0, 2))
    assert external_ids(netsuite, "usage", prefix) == [f"{prefix}-0", f"{prefix}-2"]


def test_batch_put_upserts_by_external_id(netsuite: NetSuiteClient) -> None:
    prefix = netsuite.unique("BATCH")
    items = [customer(f"{prefix}-{n}") for n in range(3)]
    assert netsuite.wait_job(accepted_job(netsuite, batch(netsuite, "PUT", "customer", items)))["progress"] == "succeeded"
    renamed = [customer(f"{prefix}-{n}", companyName=f"Renamed {n}") for n in range(3)]
    location = accepted_job(netsuite, batch(netsuite, "PUT", "customer", renamed))
    assert netsuite.wait_job(location)["progress"] == "succeeded"
    assert external_ids(netsuite, "customer", prefix) == [f"{prefix}-{n}" for n in range(3)]
    assert netsuite.record("customer", f"eid:{prefix}-2").json()["companyName"] == "Renamed 2"
    task_uris = [netsuite.session.get(item["links"][0]["href"], auth=netsuite.auth(), timeout=10).json()["requestUri"]
                 for item in netsuite.session.get(location + "/task", auth=netsuite.auth(), timeout=10).json()["items"]]
    assert task_uris[0].endswith(f"/customer/eid:{prefix}-0")


def test_batch_patch_updates_by_id(netsuite: NetSuiteClient) -> None:
    prefix = netsuite.unique("BATCH")
    netsuite.wait_job(accepted_job(netsuite, batch(netsuite, "PUT", "customer", [customer(f"{prefix}-0")])))
    internal_id = netsuite.record("customer", f"eid:{prefix}-0").json()["id"]
    location = accepted_job(netsuite, batch(netsuite, "PATCH", "customer", [
        {"id": internal_id, "entityId": "patched"}, {"id": "99999999", "entityId": "x"}]))
    assert netsuite.wait_job(location)["progress"] == "failed"
    assert [result.status_code for result in netsuite.task_results(location)] == [204, 404]
    assert netsuite.record("customer", internal_id).json()["entityId"] == "patched"


def test_batch_over_100_items_is_refused(netsuite: NetSuiteClient) -> None:
    prefix = netsuite.unique("BATCH")
    response = batch(netsuite, "POST", "customer", [customer(f"{prefix}-{n:03d}") for n in range(101)])
    assert response.status_code == 400, response.text
    assert response.json()["o:errorDetails"][0]["o:errorCode"] == "USER_ERROR"
    assert external_ids(netsuite, "customer", prefix) == []


def test_batch_of_100_items_is_accepted(netsuite: NetSuiteClient) -> None:
    prefix = netsuite.unique("BATCH")
    location = accepted_job(netsuite, batch(netsuite, "POST", "customer",
                                            [customer(f"{prefix}-{n:03d}") for n in range(100)]))
    assert netsuite.wait_job(location)["progress"] == "succeeded"
    assert len(external_ids(netsuite, "customer", prefix)) == 100


def test_batch_put_without_external_id_is_refused(netsuite: NetSuiteClient) -> None:
    prefix = netsuite.unique("BATCH")
    items = [customer(f"{prefix}-0"), {"companyName": "no key", "subsidiary": {"id": "1"}}]
    response = batch(netsuite, "PUT", "customer", items)
    assert response.status_code == 400, response.text
    detail = response.json()["o:errorDetails"][0]
    assert detail["o:errorCode"] == "USER_ERROR" and detail["o:errorPath"] == "items[1].externalId"
    assert external_ids(netsuite, "customer", prefix) == []


def test_batch_must_be_asynchronous(netsuite: NetSuiteClient) -> None:
    prefix = netsuite.unique("BATCH")
    response = batch(netsuite, "POST", "customer", [customer(f"{prefix}-0")], prefer=None)
    assert response.status_code == 400
    assert external_ids(netsuite, "customer", prefix) == []


def test_batch_with_a_reused_idempotency_key_creates_nothing(netsuite: NetSuiteClient) -> None:
    prefix = netsuite.unique("BATCH")
    key = str(uuid.uuid4())
    headers = {"Content-Type": COLLECTION, "Prefer": "respond-async", "X-NetSuite-Idempotency-Key": key}
    first = accepted_job(netsuite, netsuite.request("POST", f"{RECORD}/customer", headers=headers,
                                                    json_body={"items": [customer(f"{prefix}-a")]}))
    again = netsuite.request("POST", f"{RECORD}/customer", headers=headers,
                             json_body={"items": [customer(f"{prefix}-b")]})
    assert again.status_code == 400 and again.headers["Location"] == first
    assert again.json()["o:errorDetails"][0]["o:errorCode"] == "IDEMPOTENCY_ERROR"
    netsuite.wait_job(first)
    assert external_ids(netsuite, "customer", prefix) == [f"{prefix}-a"]


def test_unknown_job_is_404(netsuite: NetSuiteClient) -> None:
    response = netsuite.get("/services/rest/async/v1/job/987654")
    assert response.status_code == 404
    assert response.json()["o:errorDetails"][0]["o:errorCode"] == "NONEXISTENT_ID"
