"""sObject rows and upserts: create, read, update, delete, upsert by External ID, and field checks."""
from __future__ import annotations

from decimal import Decimal

from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceMoreThanOneRecord

from meterledger.http import VerifiedSession
from tests.emulators.salesforce_fixtures import (  # noqa: F401 - fixtures
    ACCOUNT_1, CONTRACT_1, CONTRACT_DUP_A, CONTRACT_DUP_B, LINE_API, VERSION, SfClient, as_json, assert_error,
    sf, sf_certificates, sf_seed_file, sf_server,
)

SUMMARY = {"Account__c": ACCOUNT_1, "Contract_Line__c": LINE_API, "Meter__c": "api_calls",
           "Period_Start__c": "2026-10-01", "Period_End__c": "2026-10-31", "Quantity__c": Decimal("12345.678"),
           "Amount__c": Decimal("24.69"), "CurrencyIsoCode": "USD", "Status__c": "Sent"}


def simple(sf: SfClient) -> Salesforce:
    return Salesforce(instance_url=sf.base_url, session_id=sf.token, session=VerifiedSession(sf.ca_bundle),
                      version=VERSION)


def test_upsert_creates_then_updates(sf: SfClient) -> None:
    created = sf.patch("/sobjects/Usage_Summary__c/External_Id__c/US-NEW-1", SUMMARY)
    assert created.status_code == 201
    body = created.json()
    assert body["success"] is True and body["errors"] == [] and body["created"] is True
    assert body["id"].startswith("a04") and len(body["id"]) == 18
    updated = sf.patch("/sobjects/Usage_Summary__c/External_Id__c/US-NEW-1", {"Quantity__c": Decimal("0.001")})
    assert updated.status_code == 200
    assert updated.json() == {"id": body["id"], "success": True, "errors": [], "created": False}
    [stored] = sf.record_by("Usage_Summary__c", "External_Id__c", "US-NEW-1")
    assert stored["Id"] == body["id"]
    assert stored["Quantity__c"] == Decimal("0.001") and stored["Amount__c"] == Decimal("24.69")
    assert stored["LastModifiedDate"] == stored["SystemModstamp"] > stored["CreatedDate"]
    fetched = as_json(sf.get(f"/sobjects/Usage_Summary__c/{body['id']}"))
    assert fetched["attributes"]["type"] == "Usage_Summary__c"
    assert fetched["External_Id__c"] == "US-NEW-1" and fetched["Amount__c"] == Decimal("24.69")
    by_key = as_json(sf.get("/sobjects/Usage_Summary__c/External_Id__c/US-NEW-1", params={"fields": "Id,Quantity__c"}))
    assert by_key == {"attributes": fetched["attributes"], "Id": body["id"], "Quantity__c": Decimal("0.001")}


def test_upsert_through_simple_salesforce(sf: SfClient) -> None:
    accounts = simple(sf).Account
    assert accounts.upsert("Customer_Key__c/C0100", {"Name": "Hooli", "Subsidiary__c": "US"}) == 201
    assert accounts.upsert("Customer_Key__c/C0100", {"Credit_Balance__c": 99.5}) == 200
    record = accounts.get_by_custom_id("Customer_Key__c", "C0100")
    assert record["Name"] == "Hooli" and record["Credit_Balance__c"] == 99.5
    assert accounts.api_usage["api-usage"].used >= 3  # parsed from Sforce-Limit-Info


def test_upsert_with_relationship_external_id(sf: SfClient) -> None:
    payload = {**SUMMARY, "Account__c": None, "Account__r": {"Customer_Key__c": "C0002"}}
    del payload["Account__c"]
    assert sf.patch("/sobjects/Usage_Summary__c/External_Id__c/US-REL", payload).status_code == 201
    [stored] = sf.record_by("Usage_Summary__c", "External_Id__c", "US-REL")
    assert stored["Account__c"] == sf.record_by("Account", "Customer_Key__c", "C0002")[0]["Id"]


def test_upsert_multiple_matches_is_300_and_writes_nothing(sf: SfClient) -> None:
    before = sf.records("Contract")
    response = sf.patch("/sobjects/Contract/Contract_Key__c/K-DUP", {"Status": "Activated"})
    assert response.status_code == 300
    assert sorted(response.json()) == sorted(f"/services/data/v{VERSION}/sobjects/Contract/{record_id}"
                                             for record_id in (CONTRACT_DUP_A, CONTRACT_DUP_B))
    assert sf.records("Contract") == before


def test_upsert_multiple_matches_created_through_the_api(sf: SfClient) -> None:
    for _ in range(2):
        assert sf.post("/sobjects/Amendment__c", {"Contract__c": CONTRACT_1, "Amendment_Key__c": "A-TWICE"}) \
                   .status_code == 201
    before = sf.records("Amendment__c")
    client = simple(sf)
    try:
        client.Amendment__c.upsert("Amendment_Key__c/A-TWICE", {"Status__c": "Activated"})
    except SalesforceMoreThanOneRecord as error:
        assert error.status == 300
    else:
        raise AssertionError("an ambiguous upsert must fail")
    assert sf.records("Amendment__c") == before


def test_create_get_update_delete(sf: SfClient) -> None:
    created = sf.post("/sobjects/Contract", {"AccountId": ACCOUNT_1, "Contract_Key__c": "K0100", "Status": "Draft",
                                             "StartDate": "2026-11-01"})
    assert created.status_code == 201
    record_id = created.json()["id"]
    assert created.json() == {"id": record_id, "success": True, "errors": []}
    assert record_id.startswith("800")
    # a 15-character id works too
    fetched = sf.get(f"/sobjects/Contract/{record_id[:15]}").json()
    assert fetched["Id"] == record_id and fetched["Status"] == "Draft" and fetched["IsDeleted"] is False
    assert sf.patch(f"/sobjects/Contract/{record_id}", {"Status": "Activated"}).status_code == 204
    assert sf.get(f"/sobjects/Contract/{record_id}").json()["Status"] == "Activated"
    assert sf.delete(f"/sobjects/Contract/{record_id}").status_code == 204
    assert_error(sf.get(f"/sobjects/Contract/{record_id}"), 404, "ENTITY_IS_DELETED")
    assert_error(sf.get("/sobjects/Contract/800Em0000000zzzAAA"), 404, "NOT_FOUND")
    assert_error(sf.patch("/sobjects/Contract/800Em0000000zzzAAA", {"Status": "Draft"}), 404, "NOT_FOUND")


def test_required_field_missing(sf: SfClient) -> None:
    body = assert_error(sf.post("/sobjects/Account", {"Customer_Key__c": "C-NONAME"}), 400, "REQUIRED_FIELD_MISSING")
    assert body["fields"] == ["Name"]
    assert sf.record_by("Account", "Customer_Key__c", "C-NONAME") == []
    body = assert_error(sf.patch("/sobjects/Usage_Summary__c/External_Id__c/US-REQ", {"Meter__c": "api_calls"}),
                        400, "REQUIRED_FIELD_MISSING")
    assert set(body["fields"]) == {"Account__c", "Period_Start__c"}
    assert sf.record_by("Usage_Summary__c", "External_Id__c", "US-REQ") == []
    # clearing a required field on update fails too, and leaves the record as it was
    assert_error(sf.patch(f"/sobjects/Account/{ACCOUNT_1}", {"Name": None}), 400, "REQUIRED_FIELD_MISSING")
    assert sf.get(f"/sobjects/Account/{ACCOUNT_1}").json()["Name"] == "Acme Corp"


def test_invalid_field(sf: SfClient) -> None:
    body = assert_error(sf.post("/sobjects/Account", {"Name": "Typo", "Customer_Key__c": "C-TYPO", "Balance__c": 1}),
                        400, "INVALID_FIELD")
    assert body["fields"] == ["Balance__c"]
    assert sf.record_by("Account", "Customer_Key__c", "C-TYPO") == []
    assert_error(sf.patch("/sobjects/Account/Customer_Key__c/C-TYPO", {"Name": "Typo", "Nope": "x"}), 400,
                 "INVALID_FIELD")
    assert sf.record_by("Account", "Customer_Key__c", "C-TYPO") == []
    before = sf.get(f"/sobjects/Account/{ACCOUNT_1}").json()
    assert_error(sf.patch(f"/sobjects/Account/{ACCOUNT_1}", {"Name": "Changed", "Nope": "x"}), 400, "INVALID_FIELD")
    assert sf.get(f"/sobjects/Account/{ACCOUNT_1}").json() == before
    assert_error(sf.post("/sobjects/Account", {"Name": "x", "SystemModstamp": "2026-01-01T00:00:00Z"}), 400,
                 "INVALID_FIELD_FOR_INSERT_UPDATE")


def test_duplicate_value_on_unique_external_id(sf: SfClient) -> None:
    before = sf.records("Account")
    body = assert_error(sf.post("/sobjects/Account", {"Name": "Copy", "Customer_Key__c": "C0001"}), 400,
                        "DUPLICATE_VALUE")
    assert ACCOUNT_1 in body["message"]
    assert_error(sf.post("/sobjects/Account", {"Name": "Copy", "Customer_Key__c": "c0001"}), 400,
                 "DUPLICATE_VALUE")  # External IDs compare without case
    assert_error(sf.patch(f"/sobjects/Account/{before[1]['Id']}", {"Customer_Key__c": "C0001"}), 400,
                 "DUPLICATE_VALUE")
    assert sf.records("Account") == before


def test_values_are_checked_by_type(sf: SfClient) -> None:
    before = sf.records("Account")
    cases = [
        ({"Credit_Balance__c": "12.50"}, "JSON_PARSER_ERROR"),
        ({"Credit_Balance__c": True}, "JSON_PARSER_ERROR"),
        ({"Credit_Runout_Date__c": "15/12/2026"}, "JSON_PARSER_ERROR"),
        ({"Credit_Runout_Date__c": "2026-02-30"}, "JSON_PARSER_ERROR"),
        ({"Subsidiary__c": "APAC"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ({"Name": 42}, "JSON_PARSER_ERROR"),
    ]
    for values, code in cases:
        assert_error(sf.patch("/sobjects/Account/Customer_Key__c/C-TYPES", {"Name": "Typed", **values}), 400, code)
    assert_error(sf.patch("/sobjects/Amendment__c/Amendment_Key__c/A-T",
                          {"Contract__c": CONTRACT_1, "Cancel__c": "yes"}), 400, "JSON_PARSER_ERROR")
    assert_error(sf.patch("/sobjects/Contract/Contract_Key__c/K-T", {"AccountId": ACCOUNT_1, "Status": "Draft",
                                                                    "StartDate": "2026-13-01"}),
                 400, "JSON_PARSER_ERROR")
    assert sf.records("Account") == before
    assert sf.record_by("Contract", "Contract_Key__c", "K-T") == []
    # right types are stored exactly
    assert sf.patch("/sobjects/Account/Customer_Key__c/C-TYPES",
                    {"Name": "Typed", "Credit_Balance__c": Decimal("1234567890.123456789"),
                     "Credit_Runout_Date__c": "2026-12-31"}).status_code == 201
    [stored] = sf.record_by("Account", "Customer_Key__c", "C-TYPES")
    assert stored["Credit_Balance__c"] == Decimal("1234567890.123456789")
    assert '"Credit_Balance__c": 1234567890.123456789' in sf.get(f"/sobjects/Account/{stored['Id']}").text


def test_reference_must_point_at_an_existing_record_of_the_right_object(sf: SfClient) -> None:
    base = {"Meter__c": "api_calls", "Period_Start__c": "2026-10-01"}
    assert_error(sf.patch("/sobjects/Usage_Summary__c/External_Id__c/US-REF1",
                          {**base, "Account__c": "001Em0000000zzzAAA"}), 400, "INVALID_CROSS_REFERENCE_KEY")
    assert_error(sf.patch("/sobjects/Usage_Summary__c/External_Id__c/US-REF2", {**base, "Account__c": CONTRACT_1}),
                 400, "FIELD_INTEGRITY_EXCEPTION")
    assert_error(sf.patch("/sobjects/Usage_Summary__c/External_Id__c/US-REF3", {**base, "Account__c": "nope"}),
                 400, "MALFORMED_ID")
    assert_error(sf.patch("/sobjects/Usage_Summary__c/External_Id__c/US-REF4",
                          {**base, "Account__r": {"Customer_Key__c": "C9999"}}), 400, "INVALID_FIELD")
    assert [r for r in sf.records("Usage_Summary__c") if r["External_Id__c"].startswith("US-REF")] == []


def test_unknown_object_and_non_external_field(sf: SfClient) -> None:
    assert_error(sf.post("/sobjects/Nothing__c", {"Name": "x"}), 404, "NOT_FOUND")
    assert_error(sf.patch("/sobjects/Account/Name/Acme", {"Subsidiary__c": "US"}), 404, "NOT_FOUND")


def test_simple_salesforce_reports_errors(sf: SfClient) -> None:
    try:
        simple(sf).Account.create({"Customer_Key__c": "C-SS"})
    except SalesforceMalformedRequest as error:
        assert error.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    else:
        raise AssertionError("expected a 400")


def test_describe(sf: SfClient) -> None:
    describe = sf.get("/sobjects/Contract_Line__c/describe").json()
    fields = {field["name"]: field for field in describe["fields"]}
    assert describe["keyPrefix"] == "a01"
    assert fields["Line_Key__c"]["externalId"] is True
    assert fields["Contract__c"]["referenceTo"] == ["Contract"]
    assert fields["Contract__c"]["relationshipName"] == "Contract__r"
    assert {"Id", "IsDeleted", "SystemModstamp", "NetSuite_Subscription_Line_Id__c"} <= set(fields)
    names = {entry["name"] for entry in sf.get("/sobjects").json()["sobjects"]}
    assert names == {"Account", "Contract", "Contract_Line__c", "Price_Tier__c", "Amendment__c", "Usage_Summary__c",
                     "Credit_Balance__c"}


def test_concurrent_upserts_of_one_key_create_one_record(sf: SfClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def upsert(number: int) -> int:
        client = SfClient(sf.base_url, sf.ca_bundle, sf.app)
        client.session.headers["Authorization"] = f"Bearer {sf.token}"
        return client.patch("/sobjects/Account/Customer_Key__c/C-RACE", {"Name": f"Racer {number}"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(upsert, range(16)))
    assert sorted(statuses) == [200] * 15 + [201]
    assert len(sf.record_by("Account", "Customer_Key__c", "C-RACE")) == 1


def test_unsupported_version_is_not_found(sf: SfClient) -> None:
    response = sf.session.get(f"{sf.base_url}/services/data/v99.0/sobjects/Account/describe", timeout=10)
    assert_error(response, 404, "NOT_FOUND")
