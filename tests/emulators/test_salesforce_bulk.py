"""Bulk API 2.0 ingest jobs: the full lifecycle, result files, failed jobs and aborts."""
from __future__ import annotations

import csv
import io
import time
from decimal import Decimal

from tests.emulators.salesforce_fixtures import (  # noqa: F401 - fixtures
    ACCOUNT_1, VERSION, SfClient, assert_error, sf, sf_certificates, sf_seed_file, sf_server,
)

CSV = (
    "External_Id__c,Account__c,Meter__c,Period_Start__c,Period_End__c,Quantity__c,Amount__c\n"
    f"US-B-1,{ACCOUNT_1},api_calls,2026-10-01,2026-10-31,100.5,12.34\n"
    f"US-B-2,{ACCOUNT_1},,2026-10-01,2026-10-31,3,1\n"                 # no meter: REQUIRED_FIELD_MISSING
    f"US-00009,{ACCOUNT_1},api_calls,2026-10-01,2026-10-31,999.999,\n"   # existing: update, amount untouched
    f"US-B-3,{ACCOUNT_1},api_calls,2026-10-01,2026-10-31,lots,1\n"      # not a number
    "US-B-4,001Em0000000zzzAAA,api_calls,2026-10-01,2026-10-31,1,1\n"   # no such account
    f"\"US-B-5\",{ACCOUNT_1},\"api_calls, eu\",2026-10-01,2026-10-31,7,0.10\n"
)


def create_job(sf: SfClient, **overrides) -> dict:
    payload = {"object": "Usage_Summary__c", "operation": "upsert", "externalIdFieldName": "External_Id__c",
               "contentType": "CSV", "lineEnding": "LF", **overrides}
    response = sf.post("/jobs/ingest", payload)
    assert response.status_code == 200, response.text
    return response.json()


def wait(sf: SfClient, job_id: str) -> tuple[dict, list[str]]:
    states = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        info = sf.get(f"/jobs/ingest/{job_id}").json()
        if not states or states[-1] != info["state"]:
            states.append(info["state"])
        if info["state"] in ("JobComplete", "Failed", "Aborted"):
            return info, states
        time.sleep(0.03)
    raise AssertionError(f"job {job_id} did not finish: {states}")


def read_csv(sf: SfClient, job_id: str, kind: str) -> list[dict]:
    response = sf.get(f"/jobs/ingest/{job_id}/{kind}/")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_full_lifecycle_with_successful_and_failed_rows(sf: SfClient) -> None:
    job = create_job(sf)
    assert job["state"] == "Open" and job["id"].startswith("750")
    assert job["contentUrl"] == f"services/data/v{VERSION}/jobs/ingest/{job['id']}/batches"
    upload = sf.session.put(sf.url(f"/jobs/ingest/{job['id']}/batches"), data=CSV.encode(),
                            headers={"Content-Type": "text/csv"}, timeout=10)
    assert upload.status_code == 201 and upload.content == b""
    closed = sf.patch(f"/jobs/ingest/{job['id']}", {"state": "UploadComplete"})
    assert closed.status_code == 200 and closed.json()["state"] == "UploadComplete"
    info, states = wait(sf, job["id"])
    assert states[0] == "InProgress" and states[-1] == "JobComplete", states
    assert info["numberRecordsProcessed"] == 6
    assert info["numberRecordsFailed"] == 3

    successful = read_csv(sf, job["id"], "successfulResults")
    assert {row["External_Id__c"]: row["sf__Created"] for row in successful} == {
        "US-B-1": "true", "US-00009": "false", "US-B-5": "true"}
    assert list(successful[0])[:2] == ["sf__Id", "sf__Created"]
    failed = {row["External_Id__c"]: row for row in read_csv(sf, job["id"], "failedResults")}
    assert set(failed) == {"US-B-2", "US-B-3", "US-B-4"}
    assert failed["US-B-2"]["sf__Error"].startswith("REQUIRED_FIELD_MISSING:")
    assert failed["US-B-3"]["sf__Error"].startswith("INVALID_TYPE_ON_FIELD_IN_RECORD:")
    assert failed["US-B-4"]["sf__Error"].startswith("INVALID_CROSS_REFERENCE_KEY:")
    assert list(next(iter(failed.values())))[:2] == ["sf__Id", "sf__Error"]
    assert read_csv(sf, job["id"], "unprocessedrecords") == []

    stored = {r["External_Id__c"]: r for r in sf.records("Usage_Summary__c")}
    assert stored["US-B-1"]["Quantity__c"] == Decimal("100.5") and stored["US-B-1"]["Amount__c"] == Decimal("12.34")
    assert stored["US-B-5"]["Meter__c"] == "api_calls, eu"
    assert stored["US-00009"]["Quantity__c"] == Decimal("999.999")
    assert stored["US-00009"]["Amount__c"] == Decimal("1.10")  # an empty cell leaves the field alone
    ids_by_key = {row["External_Id__c"]: row["sf__Id"] for row in successful}
    assert ids_by_key["US-B-1"] == stored["US-B-1"]["Id"]
    assert not {"US-B-2", "US-B-3", "US-B-4"} & set(stored)
    listed = sf.get("/jobs/ingest").json()["records"]
    assert job["id"] in [entry["id"] for entry in listed]
    assert sf.delete(f"/jobs/ingest/{job['id']}").status_code == 204
    assert_error(sf.get(f"/jobs/ingest/{job['id']}"), 404, "NOT_FOUND")


def test_unknown_column_fails_the_job(sf: SfClient) -> None:
    job = create_job(sf)
    body = "External_Id__c,Account__c,Meter__c,Period_Start__c,Colour__c\n" \
           f"US-BAD-1,{ACCOUNT_1},api_calls,2026-10-01,red\n"
    assert sf.session.put(sf.url(f"/jobs/ingest/{job['id']}/batches"), data=body, timeout=10).status_code == 201
    sf.patch(f"/jobs/ingest/{job['id']}", {"state": "UploadComplete"})
    info, _ = wait(sf, job["id"])
    assert info["state"] == "Failed" and "Colour__c" in info["errorMessage"]
    assert [row["External_Id__c"] for row in read_csv(sf, job["id"], "unprocessedrecords")] == ["US-BAD-1"]
    assert sf.record_by("Usage_Summary__c", "External_Id__c", "US-BAD-1") == []


def test_abort_leaves_rows_unprocessed(sf: SfClient) -> None:
    job = create_job(sf)
    sf.session.put(sf.url(f"/jobs/ingest/{job['id']}/batches"), data=CSV, timeout=10)
    aborted = sf.patch(f"/jobs/ingest/{job['id']}", {"state": "Aborted"}).json()
    assert aborted["state"] == "Aborted"
    assert len(read_csv(sf, job["id"], "unprocessedrecords")) == 6
    assert sf.record_by("Usage_Summary__c", "External_Id__c", "US-B-1") == []
    assert_error(sf.patch(f"/jobs/ingest/{job['id']}", {"state": "UploadComplete"}), 400, "INVALIDJOBSTATE")


def test_insert_and_relationship_columns(sf: SfClient) -> None:
    job = create_job(sf, object="Account", operation="insert", externalIdFieldName=None)
    body = "Name,Customer_Key__c,Credit_Balance__c,Subsidiary__c\nBulk One,C-BULK-1,10.00,US\nBulk Two,C-BULK-2,,EU\n"
    sf.session.put(sf.url(f"/jobs/ingest/{job['id']}/batches"), data=body, timeout=10)
    sf.patch(f"/jobs/ingest/{job['id']}", {"state": "UploadComplete"})
    assert wait(sf, job["id"])[0]["numberRecordsFailed"] == 0
    job = create_job(sf, object="Contract", externalIdFieldName="Contract_Key__c")
    body = "Contract_Key__c,Account.Customer_Key__c,Status\nK-BULK,C-BULK-2,Draft\n"
    sf.session.put(sf.url(f"/jobs/ingest/{job['id']}/batches"), data=body, timeout=10)
    sf.patch(f"/jobs/ingest/{job['id']}", {"state": "UploadComplete"})
    info, _ = wait(sf, job["id"])
    assert info["numberRecordsProcessed"] == 1 and info["numberRecordsFailed"] == 0, read_csv(
        sf, job["id"], "failedResults")
    [contract] = sf.record_by("Contract", "Contract_Key__c", "K-BULK")
    assert contract["AccountId"] == sf.record_by("Account", "Customer_Key__c", "C-BULK-2")[0]["Id"]


def test_job_definition_errors(sf: SfClient) -> None:
    assert_error(sf.post("/jobs/ingest", {"object": "Nope__c", "operation": "insert"}), 400, "INVALIDJOB")
    assert_error(sf.post("/jobs/ingest", {"object": "Account", "operation": "upsert"}), 400, "INVALIDJOB")
    assert_error(sf.post("/jobs/ingest", {"object": "Account", "operation": "upsert",
                                          "externalIdFieldName": "Name"}), 400, "INVALIDJOB")
    assert_error(sf.post("/jobs/ingest", {"object": "Account", "operation": "merge"}), 400, "INVALIDJOB")
    job = create_job(sf)
    assert_error(sf.patch(f"/jobs/ingest/{job['id']}", {"state": "JobComplete"}), 400, "INVALIDJOBSTATE")


def upload(sf: SfClient, job_id: str, body: str):
    return sf.session.put(sf.url(f"/jobs/ingest/{job_id}/batches"), data=body.encode(),
                          headers={"Content-Type": "text/csv"}, timeout=10)


def test_every_upload_is_accepted_but_a_job_with_two_cannot_be_closed(sf: SfClient) -> None:
    before = sf.records("Usage_Summary__c")
    job = create_job(sf)
    header, *rows = CSV.splitlines(keepends=True)
    assert upload(sf, job["id"], header + rows[0]).status_code == 201
    assert upload(sf, job["id"], header + rows[5]).status_code == 201
    refused = sf.patch(f"/jobs/ingest/{job['id']}", {"state": "UploadComplete"})
    body = assert_error(refused, 400, "INVALIDJOB")
    assert body["message"] == (
        f"Found multiple contents for job: {job['id']}, please 'Close' / 'Abort' / 'Delete' the current Job "
        "then create a new Job and make sure you only do 'PUT' once on a given Job.")
    time.sleep(0.4)  # two processing steps, had the close gone through
    assert sf.get(f"/jobs/ingest/{job['id']}").json()["state"] == "Open"
    aborted = sf.patch(f"/jobs/ingest/{job['id']}", {"state": "Aborted"})
    assert aborted.status_code == 200 and aborted.json()["state"] == "Aborted"
    assert sf.get(f"/jobs/ingest/{job['id']}").json()["numberRecordsProcessed"] == 0
    assert sf.records("Usage_Summary__c") == before


def test_a_job_with_one_upload_closes_and_an_upload_after_the_close_is_refused(sf: SfClient) -> None:
    job = create_job(sf)
    assert upload(sf, job["id"], CSV).status_code == 201
    assert sf.patch(f"/jobs/ingest/{job['id']}", {"state": "UploadComplete"}).status_code == 200
    body = assert_error(upload(sf, job["id"], CSV), 400, "INVALIDJOBSTATE")
    assert job["id"] in body["message"]
    info, _ = wait(sf, job["id"])
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 6  # the one upload only


def test_a_job_closed_without_an_upload_fails(sf: SfClient) -> None:
    job = create_job(sf)
    closed = sf.patch(f"/jobs/ingest/{job['id']}", {"state": "UploadComplete"})
    assert closed.status_code == 200 and closed.json()["state"] == "UploadComplete"
    info, _ = wait(sf, job["id"])
    assert info["state"] == "Failed" and info["errorMessage"] == "InvalidBatch : No data was uploaded"
    assert info["numberRecordsProcessed"] == 0
