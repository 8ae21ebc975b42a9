"""Record service: create, upsert by external ID, update, read, and every validation rule, each
rejection checked to leave nothing behind."""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.emulators.netsuite_fixtures import NetSuiteClient

pytest_plugins = ["tests.emulators.netsuite_fixtures"]

RECORD = "/services/rest/record/v1"


def error(response, status: int, code: str, path: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://www.rfc-editor.org/rfc/rfc9110.html#section-")
    detail = body["o:errorDetails"][0]
    assert detail["o:errorCode"] == code, body
    if path is not None:
        assert detail.get("o:errorPath") == path, body
    return body


def created_id(netsuite: NetSuiteClient, response, record_type: str) -> str:
    assert response.status_code == 204, response.text
    assert response.content == b""
    location = response.headers["Location"]
    prefix = f"{netsuite.base_url}{RECORD}/{record_type}/"
    assert location.startswith(prefix), location
    return location[len(prefix):]


def count(netsuite: NetSuiteClient, table: str, where: str) -> int:
    return len(netsuite.rows(f"SELECT id FROM {table} WHERE {where}"))


def customer(external_id: str, **fields) -> dict:
    return {"externalId": external_id, "companyName": f"Company {external_id}", "subsidiary": {"id": "1"},
            "currency": {"id": "1"}, **fields}


# Create, read ---------------------------------------------------------------------------------

def test_create_returns_204_with_location_and_reads_back(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("C")
    internal_id = created_id(netsuite, netsuite.create("customer", customer(external_id)), "customer")
    assert internal_id.isdigit() and int(internal_id) > netsuite.seed_customers
    by_id = netsuite.record("customer", internal_id).json()
    by_eid = netsuite.record("customer", f"eid:{external_id}").json()
    assert by_id == by_eid
    assert by_id["id"] == internal_id
    assert by_id["subsidiary"] == {"id": "1"}
    assert by_id["links"][0]["href"] == f"{netsuite.base_url}{RECORD}/customer/{internal_id}"


def test_missing_record_is_404_nonexistent_id(netsuite: NetSuiteClient) -> None:
    error(netsuite.record("customer", "999999"), 404, "NONEXISTENT_ID")
    error(netsuite.record("customer", "eid:NO-SUCH-CUSTOMER"), 404, "NONEXISTENT_ID")
    error(netsuite.request("PATCH", f"{RECORD}/customer/999999", json_body={"companyName": "x"}),
          404, "NONEXISTENT_ID")


def test_unknown_record_type_is_refused(netsuite: NetSuiteClient) -> None:
    response = netsuite.get(f"{RECORD}/salesorderx/1")
    assert response.status_code == 404
    assert response.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_RCRD_TYPE"


def test_duplicate_external_id_on_post_is_user_error(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("C")
    created_id(netsuite, netsuite.create("customer", customer(external_id)), "customer")
    error(netsuite.create("customer", customer(external_id, companyName="Second")), 400, "USER_ERROR", "externalId")
    assert count(netsuite, "customer", f"externalid = '{external_id}'") == 1
    assert netsuite.record("customer", f"eid:{external_id}").json()["companyName"] == f"Company {external_id}"


def test_unknown_reference_is_invalid_content_with_error_path(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("C")
    error(netsuite.create("customer", customer(external_id, subsidiary={"id": "987654"})),
          400, "INVALID_CONTENT", "subsidiary")
    error(netsuite.create("customer", customer(external_id, currency={"externalId": "NOPE"})),
          400, "INVALID_CONTENT", "currency")
    assert count(netsuite, "customer", f"externalid = '{external_id}'") == 0


def test_reference_by_external_id_is_resolved(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("SUB")
    response = netsuite.create("subscription", {
        "externalId": external_id, "customer": {"externalId": "C0003"}, "startDate": "2026-10-01",
        "subscriptionLine": {"items": [{"externalId": external_id + "-api", "item": {"externalId": "api_calls"},
                                        "subscriptionLineType": "Usage", "pricePlan": {"id": "300"}}]}})
    internal_id = created_id(netsuite, response, "subscription")
    record = netsuite.record("subscription", internal_id).json()
    assert record["customer"] == {"id": "3"}
    [line] = record["subscriptionLine"]["items"]
    assert line["item"] == {"id": "200"} and line["lineNumber"] == 1
    assert netsuite.record("subscriptionline", f"eid:{external_id}-api").json()["subscription"] == {"id": internal_id}


def test_unknown_field_is_refused(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("C")
    error(netsuite.create("customer", customer(external_id, colour="blue")), 400, "INVALID_CONTENT", "colour")
    assert count(netsuite, "customer", f"externalid = '{external_id}'") == 0


def test_missing_required_field_is_user_error(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("C")
    error(netsuite.create("customer", {"externalId": external_id, "subsidiary": {"id": "1"}}),
          400, "USER_ERROR", "companyName")
    assert count(netsuite, "customer", f"externalid = '{external_id}'") == 0


# Upsert and update ------------------------------------------------------------------------------

def test_put_by_external_id_upserts_one_record(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("C")
    path = f"{RECORD}/customer/eid:{external_id}"
    body = {"companyName": "First", "subsidiary": {"id": "1"}}
    first = created_id(netsuite, netsuite.request("PUT", path, json_body=body), "customer")
    second = created_id(netsuite, netsuite.request("PUT", path, json_body={**body, "companyName": "Second"}),
                        "customer")
    assert first == second
    assert count(netsuite, "customer", f"externalid = '{external_id}'") == 1
    record = netsuite.record("customer", first).json()
    assert record["companyName"] == "Second" and record["externalId"] == external_id


def test_put_by_internal_id_is_not_allowed(netsuite: NetSuiteClient) -> None:
    response = netsuite.request("PUT", f"{RECORD}/customer/1", json_body={"companyName": "x"})
    assert response.status_code == 405
    assert netsuite.record("customer", "1").json()["companyName"] == "Customer 0001"


def test_patch_updates_fields(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("C")
    internal_id = created_id(netsuite, netsuite.create("customer", customer(external_id)), "customer")
    response = netsuite.request("PATCH", f"{RECORD}/customer/{internal_id}", json_body={"companyName": "Renamed"})
    assert created_id(netsuite, response, "customer") == internal_id
    response = netsuite.request("PATCH", f"{RECORD}/customer/eid:{external_id}", json_body={"entityId": "E-1"})
    assert created_id(netsuite, response, "customer") == internal_id
    record = netsuite.record("customer", internal_id).json()
    assert (record["companyName"], record["entityId"]) == ("Renamed", "E-1")


def test_patch_to_an_external_id_in_use_is_refused(netsuite: NetSuiteClient) -> None:
    first, second = netsuite.unique("C"), netsuite.unique("C")
    created_id(netsuite, netsuite.create("customer", customer(first)), "customer")
    second_id = created_id(netsuite, netsuite.create("customer", customer(second)), "customer")
    error(netsuite.request("PATCH", f"{RECORD}/customer/{second_id}", json_body={"externalId": first}),
          400, "USER_ERROR", "externalId")
    assert netsuite.record("customer", second_id).json()["externalId"] == second


# Usage ------------------------------------------------------------------------------------------

def usage(external_id: str, **fields) -> dict:
    body = {"externalId": external_id, "usageSubscription": {"id": "400"}, "usageSubscriptionLine": {"id": "500"},
            "usageQuantity": Decimal("12.5"), "usageDate": "2026-10-05", "memo": "test"}
    body.update(fields)
    return {name: value for name, value in body.items() if value is not None}


def test_usage_is_created_and_takes_the_subscription_customer(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("U")
    internal_id = created_id(netsuite, netsuite.create("usage", usage(external_id)), "usage")
    record = netsuite.record("usage", internal_id).json()
    assert record["customer"] == {"id": "1"}
    assert record["usageQuantity"] == 12.5
    [row] = netsuite.rows(f"SELECT usagequantity, usagedate, customer FROM usage WHERE id = {internal_id}")
    assert row == {"links": [], "usagequantity": "12.5", "usagedate": "2026-10-05", "customer": "1"}


@pytest.mark.parametrize("missing", ["usageSubscription", "usageSubscriptionLine", "usageQuantity", "usageDate"])
def test_usage_required_field_missing(netsuite: NetSuiteClient, missing: str) -> None:
    external_id = netsuite.unique("U")
    error(netsuite.create("usage", usage(external_id, **{missing: None})), 400, "USER_ERROR", missing)
    assert count(netsuite, "usage", f"externalid = '{external_id}'") == 0


@pytest.mark.parametrize("bad_date", ["2026-13-01", "10/05/2026", "2026-10-05T00:00:00Z"])
def test_usage_date_must_be_yyyy_mm_dd(netsuite: NetSuiteClient, bad_date: str) -> None:
    external_id = netsuite.unique("U")
    error(netsuite.create("usage", usage(external_id, usageDate=bad_date)), 400, "INVALID_CONTENT", "usageDate")
    assert count(netsuite, "usage", f"externalid = '{external_id}'") == 0


def test_usage_quantity_must_be_a_number(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("U")
    error(netsuite.create("usage", usage(external_id, usageQuantity="lots")), 400, "INVALID_CONTENT",
          "usageQuantity")
    assert count(netsuite, "usage", f"externalid = '{external_id}'") == 0


def test_usage_line_must_belong_to_the_subscription(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("U")
    # line 502 belongs to subscription 401, not 400
    error(netsuite.create("usage", usage(external_id, usageSubscriptionLine={"id": "502"})),
          400, "USER_ERROR", "usageSubscriptionLine")
    assert count(netsuite, "usage", f"externalid = '{external_id}'") == 0


def test_usage_subscription_must_belong_to_the_customer(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("U")
    error(netsuite.create("usage", usage(external_id, customer={"id": "2"})), 400, "USER_ERROR", "customer")
    assert count(netsuite, "usage", f"externalid = '{external_id}'") == 0


def test_usage_unknown_subscription_line(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("U")
    error(netsuite.create("usage", usage(external_id, usageSubscriptionLine={"id": "77777"})),
          400, "INVALID_CONTENT", "usageSubscriptionLine")
    assert count(netsuite, "usage", f"externalid = '{external_id}'") == 0


# Journal entries ----------------------------------------------------------------------------------

def journal(external_id: str, lines: list[dict] | None = None, **fields) -> dict:
    body = {"externalId": external_id, "subsidiary": {"id": "1"}, "currency": {"id": "1"},
            "trandate": "2026-10-31", "memo": "usage revenue",
            "line": {"items": lines if lines is not None else [
                {"account": {"id": "11"}, "debit": Decimal("100.10"), "entity": {"id": "1"}, "memo": "AR",
                 "custcol_contract_line": "K0001-api"},
                {"account": {"id": "10"}, "credit": Decimal("60.05"), "department": {"id": "3"}},
                {"account": {"id": "10"}, "credit": Decimal("40.05"), "class": {"id": "4"}, "location": {"id": "5"}},
            ]}}
    body.update(fields)
    return {name: value for name, value in body.items() if value is not None}


def test_balanced_journal_entry_is_created(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("JE")
    internal_id = created_id(netsuite, netsuite.create("journalentry", journal(external_id)), "journalentry")
    record = netsuite.record("journalentry", internal_id).json()
    assert record["tranDate"] == "2026-10-31" and "trandate" not in record
    assert record["postingPeriod"] == {"id": "103"}
    lines = record["line"]["items"]
    assert [line.get("debit") for line in lines] == [100.10, None, None]
    assert lines[0]["custcol_contract_line"] == "K0001-api"
    assert lines[1]["department"] == {"id": "3"} and lines[2]["location"] == {"id": "5"}
    [head] = netsuite.rows(f"SELECT type, trandate, foreigntotal, postingperiod FROM transaction WHERE id = {internal_id}")
    assert head == {"links": [], "type": "Journal", "trandate": "2026-10-31", "foreigntotal": "100.10",
                    "postingperiod": "103"}
    rows = netsuite.rows(f"SELECT id, account, debitforeignamount, creditforeignamount, custcol_contract_line "
                         f"FROM transactionline WHERE transaction = {internal_id} ORDER BY id")
    assert [(row["account"], row.get("debitforeignamount"), row.get("creditforeignamount")) for row in rows] == [
        ("11", "100.10", None), ("10", None, "60.05"), ("10", None, "40.05")]
    assert rows[0]["custcol_contract_line"] == "K0001-api"


def test_journal_entry_accepts_tranDate_spelling(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("JE")
    body = journal(external_id, trandate=None, tranDate="2026-09-15")
    internal_id = created_id(netsuite, netsuite.create("journalentry", body), "journalentry")
    assert netsuite.record("journalentry", internal_id).json()["postingPeriod"] == {"id": "102"}


def test_unbalanced_journal_entry_is_user_error(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("JE")
    lines = [{"account": {"id": "11"}, "debit": Decimal("100.00")},
             {"account": {"id": "10"}, "credit": Decimal("99.99")}]
    error(netsuite.create("journalentry", journal(external_id, lines)), 400, "USER_ERROR", "line")
    assert count(netsuite, "journalentry", f"externalid = '{external_id}'") == 0
    assert count(netsuite, "transaction", f"externalid = '{external_id}'") == 0


def test_journal_entry_needs_two_lines(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("JE")
    error(netsuite.create("journalentry", journal(external_id, [{"account": {"id": "11"}, "debit": 0}])),
          400, "USER_ERROR", "line")
    assert count(netsuite, "journalentry", f"externalid = '{external_id}'") == 0


def test_journal_line_needs_exactly_one_of_debit_or_credit(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("JE")
    lines = [{"account": {"id": "11"}, "debit": Decimal("5"), "credit": Decimal("5")},
             {"account": {"id": "10"}, "credit": Decimal("0")}]
    error(netsuite.create("journalentry", journal(external_id, lines)), 400, "USER_ERROR", "line.items[0]")
    lines = [{"account": {"id": "11"}, "debit": Decimal("5")}, {"account": {"id": "10"}}]
    error(netsuite.create("journalentry", journal(external_id, lines)), 400, "USER_ERROR", "line.items[1]")
    assert count(netsuite, "journalentry", f"externalid = '{external_id}'") == 0


def test_journal_line_unknown_account_is_invalid_content(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("JE")
    lines = [{"account": {"id": "11"}, "debit": Decimal("5")}, {"account": {"id": "4040"}, "credit": Decimal("5")}]
    error(netsuite.create("journalentry", journal(external_id, lines)), 400, "INVALID_CONTENT",
          "line.items[1].account")
    assert count(netsuite, "journalentry", f"externalid = '{external_id}'") == 0


def test_journal_entry_dated_in_a_closed_period_is_refused(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("JE")
    error(netsuite.create("journalentry", journal(external_id, trandate="2026-07-31")), 400, "USER_ERROR",
          "tranDate")
    assert count(netsuite, "journalentry", f"externalid = '{external_id}'") == 0


def test_journal_entry_posted_to_a_closed_period_is_refused(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("JE")
    error(netsuite.create("journalentry", journal(external_id, postingPeriod={"id": "100"})), 400, "USER_ERROR",
          "postingPeriod")
    assert count(netsuite, "journalentry", f"externalid = '{external_id}'") == 0


def test_journal_entry_in_an_all_locked_period_is_refused_until_it_is_unlocked(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("JE")
    assert netsuite.control("POST", "accountingperiods/103/lock").json() == {
        "id": "103", "closed": False, "allLocked": True}
    try:
        body = error(netsuite.create("journalentry", journal(external_id)), 400, "USER_ERROR", "tranDate")
        assert "Oct 2026 is locked" in body["o:errorDetails"][0]["detail"]
        assert netsuite.rows("SELECT alllocked, arlocked, aplocked, closed FROM accountingperiod WHERE id = 103") == [
            {"links": [], "alllocked": "T", "arlocked": "T", "aplocked": "T", "closed": "F"}]
        assert count(netsuite, "journalentry", f"externalid = '{external_id}'") == 0
    finally:
        netsuite.control("POST", "accountingperiods/103/unlock")
    created_id(netsuite, netsuite.create("journalentry", journal(external_id)), "journalentry")


def test_lines_are_added_unless_replace_line(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("JE")
    internal_id = created_id(netsuite, netsuite.create("journalentry", journal(external_id)), "journalentry")
    more = {"line": {"items": [{"account": {"id": "11"}, "debit": Decimal("1.00")},
                               {"account": {"id": "10"}, "credit": Decimal("1.00")}]}}
    netsuite.request("PATCH", f"{RECORD}/journalentry/{internal_id}", json_body=more)
    assert len(netsuite.record("journalentry", internal_id).json()["line"]["items"]) == 5
    response = netsuite.request("PATCH", f"{RECORD}/journalentry/{internal_id}", json_body=more,
                                params={"replace": "line"})
    assert created_id(netsuite, response, "journalentry") == internal_id
    lines = netsuite.record("journalentry", internal_id).json()["line"]["items"]
    assert [(line.get("debit"), line.get("credit")) for line in lines] == [(1, None), (None, 1)]
    # an upsert by external ID replaces the lines the same way
    response = netsuite.request("PUT", f"{RECORD}/journalentry/eid:{external_id}", params={"replace": "line"},
                                json_body=journal(external_id, externalId=None))
    assert created_id(netsuite, response, "journalentry") == internal_id
    assert len(netsuite.record("journalentry", internal_id).json()["line"]["items"]) == 3
    assert len(netsuite.rows(f"SELECT id FROM transactionline WHERE transaction = {internal_id}")) == 3


def test_update_that_unbalances_the_journal_is_refused(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("JE")
    internal_id = created_id(netsuite, netsuite.create("journalentry", journal(external_id)), "journalentry")
    extra = {"line": {"items": [{"account": {"id": "11"}, "debit": Decimal("3.00")}]}}
    error(netsuite.request("PATCH", f"{RECORD}/journalentry/{internal_id}", json_body=extra), 400, "USER_ERROR",
          "line")
    assert len(netsuite.record("journalentry", internal_id).json()["line"]["items"]) == 3


def test_sublists_are_links_unless_expanded(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("JE")
    internal_id = created_id(netsuite, netsuite.create("journalentry", journal(external_id)), "journalentry")
    plain = netsuite.get(f"{RECORD}/journalentry/{internal_id}").json()
    assert "items" not in plain["line"]
    sublist = netsuite.get(plain["line"]["links"][0]["href"].replace(netsuite.base_url, "")).json()
    assert sublist["count"] == 3 and sublist["items"][0]["account"] == {"id": "11"}


def test_list_records(netsuite: NetSuiteClient) -> None:
    page = netsuite.get(f"{RECORD}/accountingperiod", params={"limit": 2, "offset": 0}).json()
    assert page["count"] == 2 and page["hasMore"] is True and page["totalResults"] >= 4
    assert [item["id"] for item in page["items"]] == ["100", "101"]


def test_delete_record(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("C")
    internal_id = created_id(netsuite, netsuite.create("customer", customer(external_id)), "customer")
    assert netsuite.request("DELETE", f"{RECORD}/customer/{internal_id}").status_code == 204
    error(netsuite.record("customer", internal_id), 404, "NONEXISTENT_ID")
