"""sObject Collections: upsert up to 200 records, per-record results in order, allOrNone rollback."""
from __future__ import annotations

from decimal import Decimal

from tests.emulators.salesforce_fixtures import (  # noqa: F401 - fixtures
    ACCOUNT_1, ACCOUNT_2, CONTRACT_1, LINE_API, SfClient, as_json, assert_error, sf, sf_certificates,
    sf_seed_file, sf_server,
)

PATH = "/composite/sobjects/Usage_Summary__c/External_Id__c"


def summary(key: str, **values) -> dict:
    record = {"attributes": {"type": "Usage_Summary__c"}, "External_Id__c": key, "Account__c": ACCOUNT_1,
              "Contract_Line__c": LINE_API, "Meter__c": "api_calls", "Period_Start__c": "2026-10-01",
              "Period_End__c": "2026-10-31", "Quantity__c": Decimal("10.5"), "Amount__c": Decimal("0.99")}
    record.update(values)
    return {k: v for k, v in record.items() if v is not ...}


def test_mixed_success_in_request_order(sf: SfClient) -> None:
    records = [
        summary("US-C-1"),
        summary("US-C-2", Meter__c=...),                       # REQUIRED_FIELD_MISSING
        summary("US-00005", Quantity__c=Decimal("777.125")),   # existing: update
        summary("US-C-3", Bogus__c="x"),                       # INVALID_FIELD
        summary("US-C-4", Account__c=ACCOUNT_2),
        summary("US-C-5", Quantity__c="ten"),                  # wrong type
    ]
    response = sf.patch(PATH, {"allOrNone": False, "records": records})
    assert response.status_code == 200
    results = response.json()
    assert len(results) == 6
    assert [r["success"] for r in results] == [True, False, True, False, True, False]
    assert results[0]["created"] is True and results[2]["created"] is False and results[4]["created"] is True
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert results[1]["errors"][0]["fields"] == ["Meter__c"]
    assert results[3]["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert results[5]["errors"][0]["statusCode"] == "JSON_PARSER_ERROR"
    stored = {r["External_Id__c"]: r for r in sf.records("Usage_Summary__c")}
    assert stored["US-C-1"]["Id"] == results[0]["id"]
    assert stored["US-00005"]["Id"] == results[2]["id"]
    assert stored["US-00005"]["Quantity__c"] == Decimal("777.125")
    assert stored["US-C-4"]["Account__c"] == ACCOUNT_2
    assert "US-C-2" not in stored and "US-C-3" not in stored and "US-C-5" not in stored


def test_all_or_none_rolls_everything_back(sf: SfClient) -> None:
    before = sf.records("Usage_Summary__c")
    records = [
        summary("US-R-1"),
        summary("US-00007", Quantity__c=Decimal("1")),   # an update that must be undone
        summary("US-R-2", Period_Start__c="not-a-date"),
        summary("US-R-3"),
    ]
    response = sf.patch(PATH, {"allOrNone": True, "records": records})
    assert response.status_code == 200
    results = response.json()
    assert [r["success"] for r in results] == [False, False, False, False]
    codes = [r["errors"][0]["statusCode"] for r in results]
    assert codes == ["ALL_OR_NONE_OPERATION_ROLLED_BACK", "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                     "JSON_PARSER_ERROR", "ALL_OR_NONE_OPERATION_ROLLED_BACK"]
    assert sf.records("Usage_Summary__c") == before


def test_all_or_none_success_writes_everything(sf: SfClient) -> None:
    response = sf.patch(PATH, {"allOrNone": True, "records": [summary(f"US-OK-{n}") for n in range(3)]})
    assert [r["success"] for r in response.json()] == [True] * 3
    assert len([r for r in sf.records("Usage_Summary__c") if r["External_Id__c"].startswith("US-OK-")]) == 3


def test_rollback_restores_external_id_index(sf: SfClient) -> None:
    sf.patch(PATH, {"allOrNone": True, "records": [summary("US-IDX"), summary("US-BAD", Meter__c=...)]})
    # the rolled-back create left no trace: the key is free and upsert creates
    response = sf.patch("/sobjects/Usage_Summary__c/External_Id__c/US-IDX", summary("US-IDX"))
    assert response.status_code == 201


def test_exactly_200_records_is_accepted(sf: SfClient) -> None:
    response = sf.patch(PATH, {"records": [summary(f"US-200-{n:03d}") for n in range(200)]})
    assert response.status_code == 200
    assert all(result["success"] for result in response.json())


def test_more_than_200_records_is_400_and_writes_nothing(sf: SfClient) -> None:
    before = len(sf.records("Usage_Summary__c"))
    response = sf.patch(PATH, {"records": [summary(f"US-201-{n:03d}") for n in range(201)]})
    assert_error(response, 400, "EXCEEDED_ID_LIMIT")
    assert len(sf.records("Usage_Summary__c")) == before


def test_duplicate_keys_and_wrong_type_in_one_request(sf: SfClient) -> None:
    records = [summary("US-TWICE"), summary("US-TWICE"),
               {**summary("US-OTHER"), "attributes": {"type": "Account"}}, summary("US-FINE")]
    results = sf.patch(PATH, {"records": records}).json()
    assert [r["success"] for r in results] == [False, False, False, True]
    assert results[0]["errors"][0]["statusCode"] == "DUPLICATE_EXTERNAL_ID"
    assert results[2]["errors"][0]["statusCode"] == "INVALID_TYPE"


def test_create_update_delete_collections(sf: SfClient) -> None:
    created = sf.post("/composite/sobjects", {"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "Name": "One", "Customer_Key__c": "C-COL-1"},
        {"attributes": {"type": "Account"}, "Customer_Key__c": "C-COL-2"},
        {"attributes": {"type": "Contract"}, "AccountId": ACCOUNT_1, "Status": "Draft", "Contract_Key__c": "K-COL"},
    ]}).json()
    assert [r["success"] for r in created] == [True, False, True]
    assert created[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    updated = sf.patch("/composite/sobjects", {"records": [
        {"attributes": {"type": "Account"}, "Id": created[0]["id"], "Credit_Balance__c": Decimal("5.05")},
        {"attributes": {"type": "Contract"}, "Id": CONTRACT_1, "Status": "Bogus"},
    ]}).json()
    assert updated[0]["success"] is True and updated[1]["success"] is False
    assert updated[1]["id"] == CONTRACT_1
    assert as_json(sf.get(f"/sobjects/Account/{created[0]['id']}"))["Credit_Balance__c"] == Decimal("5.05")
    deleted = sf.delete("/composite/sobjects", params={"ids": f"{created[0]['id']},{created[2]['id']}"}).json()
    assert [r["success"] for r in deleted] == [True, True]
    assert sf.query("SELECT COUNT() FROM Account WHERE Customer_Key__c = 'C-COL-1'").json()["totalSize"] == 0
