"""SOQL query / queryAll of the Salesforce emulator: paging, filters, ordering, deletes, errors."""
from __future__ import annotations

from decimal import Decimal

from simple_salesforce import Salesforce

from meterledger.http import VerifiedSession
from tests.emulators.salesforce_fixtures import (  # noqa: F401 - fixtures
    ACCOUNT_1, ACCOUNT_2, USAGE_ROWS, VERSION, SfClient, as_json, assert_error, sf, sf_certificates,
    sf_seed_file, sf_server,
)


def simple(sf: SfClient) -> Salesforce:
    return Salesforce(instance_url=sf.base_url, session_id=sf.token, session=VerifiedSession(sf.ca_bundle),
                      version=VERSION)


def test_paging_over_2000_records_with_next_records_url(sf: SfClient) -> None:
    first = sf.query("SELECT Id, External_Id__c, Quantity__c FROM Usage_Summary__c")
    assert first.status_code == 200
    page = as_json(first)
    assert page["totalSize"] == USAGE_ROWS
    assert page["done"] is False
    assert len(page["records"]) == 2000
    assert page["nextRecordsUrl"].startswith(f"/services/data/v{VERSION}/query/")
    record = page["records"][0]
    assert record["attributes"]["type"] == "Usage_Summary__c"
    assert record["attributes"]["url"] == f"/services/data/v{VERSION}/sobjects/Usage_Summary__c/{record['Id']}"
    assert set(record) == {"attributes", "Id", "External_Id__c", "Quantity__c"}
    assert record["Quantity__c"] == Decimal("0.25")  # exact digits, a JSON number
    second = sf.session.get(sf.base_url + page["nextRecordsUrl"], timeout=10)
    assert second.status_code == 200
    rest = as_json(second)
    assert rest["done"] is True and "nextRecordsUrl" not in rest
    assert rest["totalSize"] == USAGE_ROWS
    ids = [r["Id"] for r in page["records"] + rest["records"]]
    assert len(ids) == len(set(ids)) == USAGE_ROWS
    assert all(len(record_id) == 18 and record_id.startswith("a04") for record_id in ids)


def test_query_all_paging_through_simple_salesforce(sf: SfClient) -> None:
    result = simple(sf).query_all("SELECT Id, External_Id__c FROM Usage_Summary__c ORDER BY External_Id__c DESC")
    assert result["totalSize"] == USAGE_ROWS
    keys = [record["External_Id__c"] for record in result["records"]]
    assert len(keys) == USAGE_ROWS
    assert keys == sorted(keys, reverse=True)


def test_batch_size_header(sf: SfClient) -> None:
    response = sf.get("/query", params={"q": "SELECT Id FROM Usage_Summary__c"},
                      headers={"Sforce-Query-Options": "batchSize=500"})
    page = response.json()
    assert len(page["records"]) == 500 and page["nextRecordsUrl"].endswith("-500")


def test_invalid_query_locator(sf: SfClient) -> None:
    assert_error(sf.get("/query/01gEm0000000000AAA-2000"), 400, "INVALID_QUERY_LOCATOR")


def test_where_operators_and_literals(sf: SfClient) -> None:
    def ids_of(soql: str) -> list[str]:
        response = sf.query(soql)
        assert response.status_code == 200, response.text
        return [record["External_Id__c"] for record in response.json()["records"]]

    assert ids_of("SELECT External_Id__c FROM Usage_Summary__c WHERE External_Id__c = 'US-00003'") == ["US-00003"]
    assert ids_of("select external_id__c from usage_summary__c where external_id__c = 'us-00003'") == ["US-00003"]
    assert ids_of("SELECT External_Id__c FROM Usage_Summary__c WHERE Quantity__c < 2 ORDER BY External_Id__c") \
        == ["US-00000", "US-00001"]
    assert ids_of("SELECT External_Id__c FROM Usage_Summary__c WHERE Quantity__c >= 2098.25") \
        == ["US-02098", "US-02099"]
    assert ids_of("SELECT External_Id__c FROM Usage_Summary__c WHERE Quantity__c > 2098.25") == ["US-02099"]
    assert ids_of("SELECT External_Id__c FROM Usage_Summary__c WHERE Quantity__c <= 0.25") == ["US-00000"]
    assert ids_of("SELECT External_Id__c FROM Usage_Summary__c WHERE External_Id__c IN ('US-00001', 'US-00007')"
                  " ORDER BY External_Id__c") == ["US-00001", "US-00007"]
    assert ids_of("SELECT External_Id__c FROM Usage_Summary__c WHERE Period_Start__c = 2026-01-02 "
                  "AND Account__c = '" + ACCOUNT_2 + "' ORDER BY External_Id__c LIMIT 1") == ["US-00001"]
    assert ids_of("SELECT External_Id__c FROM Usage_Summary__c WHERE (Quantity__c < 1 OR Quantity__c > 2099) "
                  "AND Meter__c != null ORDER BY Quantity__c DESC") == ["US-02099", "US-00000"]
    assert ids_of("SELECT External_Id__c FROM Usage_Summary__c WHERE External_Id__c LIKE 'US-0000%' "
                  "AND NOT External_Id__c IN ('US-00000') ORDER BY External_Id__c LIMIT 2 OFFSET 1") \
        == ["US-00002", "US-00003"]


def test_null_boolean_and_text_filters(sf: SfClient) -> None:
    names = lambda soql: sorted(r["Name"] for r in sf.query(soql).json()["records"])  # noqa: E731
    assert names("SELECT Name FROM Account WHERE Credit_Balance__c = null") == ["Initech"]
    assert names("SELECT Name FROM Account WHERE Credit_Balance__c != null") == ["Acme Corp", "Globex GmbH"]
    assert names("SELECT Name FROM Account WHERE Subsidiary__c != 'EU'") == ["Acme Corp", "Initech"]
    assert names("SELECT Name FROM Account WHERE IsDeleted = false AND Usage_Alert__c != null") == ["Globex GmbH"]
    amendments = sf.query("SELECT Amendment_Key__c FROM Amendment__c WHERE Cancel__c = false").json()
    assert amendments["totalSize"] == 1


def test_datetime_literals_and_incremental_system_modstamp(sf: SfClient) -> None:
    response = sf.query("SELECT Name, SystemModstamp FROM Account "
                        "WHERE SystemModstamp >= 2026-10-01T12:00:00Z AND SystemModstamp < 2026-10-02T09:00:00+00:00 "
                        "ORDER BY SystemModstamp")
    assert [r["Name"] for r in response.json()["records"]] == ["Acme Corp", "Globex GmbH"]
    assert response.json()["records"][0]["SystemModstamp"] == "2026-10-01T12:00:00.000+0000"
    # Every write gets a stamp later than every stamp seen so far: an incremental reader misses nothing.
    newest = sf.query("SELECT SystemModstamp FROM Account ORDER BY SystemModstamp DESC LIMIT 1").json()
    watermark = newest["records"][0]["SystemModstamp"].replace("+0000", "Z")  # as the dlt source does
    for number in range(5):
        assert sf.patch(f"/sobjects/Account/Customer_Key__c/C-INC{number}", {"Name": f"Inc {number}"}).ok
    stamps = [r["SystemModstamp"] for r in sf.query(
        "SELECT SystemModstamp FROM Account WHERE Customer_Key__c LIKE 'C-INC%' ORDER BY Customer_Key__c").json()[
        "records"]]
    assert stamps == sorted(stamps) and len(set(stamps)) == 5
    later = sf.query(f"SELECT Customer_Key__c FROM Account WHERE SystemModstamp > {watermark}").json()
    assert sorted(r["Customer_Key__c"] for r in later["records"]) == [f"C-INC{n}" for n in range(5)]


def test_order_by_nulls_and_relationship_fields(sf: SfClient) -> None:
    response = sf.query("SELECT Name, Credit_Balance__c FROM Account ORDER BY Credit_Balance__c DESC NULLS LAST")
    assert [r["Name"] for r in response.json()["records"]] == ["Acme Corp", "Globex GmbH", "Initech"]
    lines = sf.query("SELECT Line_Key__c, Contract__r.Contract_Key__c, Contract__r.Account.Customer_Key__c "
                     "FROM Contract_Line__c WHERE Contract__r.Contract_Key__c = 'K0001' ORDER BY Line_Key__c")
    records = lines.json()["records"]
    assert [r["Line_Key__c"] for r in records] == ["K0001-api", "K0001-platform"]
    assert records[0]["Contract__r"]["Contract_Key__c"] == "K0001"
    assert records[0]["Contract__r"]["Account"]["Customer_Key__c"] == "C0001"
    assert records[0]["Contract__r"]["attributes"]["type"] == "Contract"


def test_count(sf: SfClient) -> None:
    response = sf.query(f"SELECT COUNT() FROM Usage_Summary__c WHERE Account__c = '{ACCOUNT_1}'")
    assert response.json() == {"totalSize": USAGE_ROWS // 2, "done": True, "records": []}


def test_query_all_sees_deleted_records(sf: SfClient) -> None:
    target = sf.query("SELECT Id FROM Usage_Summary__c WHERE External_Id__c = 'US-00042'").json()["records"][0]["Id"]
    assert sf.delete(f"/sobjects/Usage_Summary__c/{target}").status_code == 204
    soql = "SELECT Id, IsDeleted FROM Usage_Summary__c WHERE External_Id__c = 'US-00042'"
    assert sf.query(soql).json()["totalSize"] == 0
    everything = sf.query(soql, endpoint="queryAll").json()
    assert everything["totalSize"] == 1
    assert everything["records"][0] == {
        "attributes": {"type": "Usage_Summary__c", "url": f"/services/data/v{VERSION}/sobjects/Usage_Summary__c/{target}"},
        "Id": target, "IsDeleted": True}
    assert sf.query("SELECT COUNT() FROM Usage_Summary__c").json()["totalSize"] == USAGE_ROWS - 1
    assert sf.query("SELECT COUNT() FROM Usage_Summary__c", endpoint="queryAll").json()["totalSize"] == USAGE_ROWS
    deleted_only = sf.query("SELECT Id FROM Usage_Summary__c WHERE IsDeleted = true", endpoint="queryAll").json()
    assert [r["Id"] for r in deleted_only["records"]] == [target]
    # through simple-salesforce too
    result = simple(sf).query_all("SELECT Id FROM Usage_Summary__c WHERE IsDeleted = true", include_deleted=True)
    assert [r["Id"] for r in result["records"]] == [target]
    # the record itself is gone from the REST API and a second delete fails
    assert_error(sf.get(f"/sobjects/Usage_Summary__c/{target}"), 404, "ENTITY_IS_DELETED")
    assert_error(sf.delete(f"/sobjects/Usage_Summary__c/{target}"), 404, "ENTITY_IS_DELETED")
    # deleting moved SystemModstamp, so an incremental queryAll picks the delete up
    stamp = sf.query("SELECT SystemModstamp FROM Usage_Summary__c WHERE Id = '" + target + "'",
                     endpoint="queryAll").json()["records"][0]["SystemModstamp"]
    assert stamp == max(r["SystemModstamp"] for r in sf.records("Usage_Summary__c"))


def test_malformed_query(sf: SfClient) -> None:
    for soql in ("SELECT Id FRM Account", "SELECT FROM Account", "SELECT Id FROM Account WHERE",
                 "SELECT Id FROM Account WHERE Name = 'x' AND Name = 'y' OR Name = 'z'",
                 "SELECT Id FROM Account LIMIT many", "SELECT Id FROM Account WHERE Name = 'unterminated",
                 "DELETE FROM Account",
                 "SELECT Id FROM Account WHERE SystemModstamp > 2026-10-01T12:00:00.000+0000",
                 "SELECT Id FROM Account WHERE SystemModstamp > 2026-10-01T12:00:00"):
        assert_error(sf.query(soql), 400, "MALFORMED_QUERY")
    assert_error(sf.get("/query"), 400, "MALFORMED_QUERY")


def test_unknown_field_or_object(sf: SfClient) -> None:
    body = assert_error(sf.query("SELECT Id, Nmae FROM Account"), 400, "INVALID_FIELD")
    assert "Nmae" in body["message"]
    assert_error(sf.query("SELECT Id FROM Account WHERE Bogus__c = 'x'"), 400, "INVALID_FIELD")
    assert_error(sf.query("SELECT Id FROM Account ORDER BY Bogus__c"), 400, "INVALID_FIELD")
    assert_error(sf.query("SELECT Id FROM Usage_Summary__c WHERE Period_Start__c = '2026-01-01'"), 400,
                 "INVALID_FIELD")  # a date is not quoted
    assert_error(sf.query("SELECT Id FROM Nothing__c"), 400, "INVALID_TYPE")
