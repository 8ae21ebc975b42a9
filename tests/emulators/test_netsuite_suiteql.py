"""SuiteQL: the SELECT subset, paging past 1000 rows, string values, and refused queries."""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.emulators.netsuite_fixtures import NetSuiteClient

pytest_plugins = ["tests.emulators.netsuite_fixtures"]


def ids(rows: list[dict]) -> list[str]:
    return [row["id"] for row in rows]


def query_error(response) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["title"] == "Bad Request"
    detail = body["o:errorDetails"][0]
    assert detail["o:errorCode"] == "INVALID_PARAMETER", body
    return detail["detail"]


def test_pages_past_1000_rows(netsuite: NetSuiteClient) -> None:
    total = netsuite.seed_customers
    query = f"SELECT id, externalid FROM customer WHERE id <= {total} ORDER BY id"
    first = netsuite.suiteql(query)
    assert first.status_code == 200, first.text
    page = first.json()
    assert (page["count"], page["hasMore"], page["offset"], page["totalResults"]) == (1000, True, 0, total)
    links = {link["rel"]: link["href"] for link in page["links"]}
    assert links["next"] == f"{netsuite.base_url}/services/rest/query/v1/suiteql?limit=1000&offset=1000"
    assert links["last"].endswith("limit=1000&offset=1000") and links["first"].endswith("offset=0")
    assert "previous" not in links
    assert page["items"][0] == {"links": [], "id": "1", "externalid": "C0001"}

    second = netsuite.suiteql(query, limit=1000, offset=1000).json()
    assert (second["count"], second["hasMore"], second["offset"], second["totalResults"]) == (150, False, 1000, total)
    links = {link["rel"]: link["href"] for link in second["links"]}
    assert "next" not in links and links["previous"].endswith("limit=1000&offset=0")
    assert links["self"].endswith("limit=1000&offset=1000")
    every = ids(page["items"]) + ids(second["items"])
    assert every == [str(n) for n in range(1, total + 1)]


def test_small_pages(netsuite: NetSuiteClient) -> None:
    page = netsuite.suiteql("SELECT id FROM customer WHERE id <= 50 ORDER BY id", limit=10, offset=20).json()
    assert ids(page["items"]) == [str(n) for n in range(21, 31)]
    assert page["hasMore"] is True and page["totalResults"] == 50 and page["offset"] == 20


@pytest.mark.parametrize("limit", [0, 1001, "x"])
def test_page_size_is_at_most_1000(netsuite: NetSuiteClient, limit) -> None:
    query_error(netsuite.suiteql("SELECT id FROM currency", limit=limit))


def test_values_are_strings_in_netsuite_formats(netsuite: NetSuiteClient) -> None:
    [rate] = netsuite.rows("SELECT * FROM currencyrate WHERE id = 1")
    assert rate["exchangerate"] == "1.0825" and rate["effectivedate"] == "2026-08-01"
    assert rate["basecurrency"] == "1" and rate["transactioncurrency"] == "2"
    assert len(rate["lastmodifieddate"]) == len("2026-08-01 00:00:00")
    [period] = netsuite.rows("SELECT periodname, closed, isquarter FROM accountingperiod WHERE id = 100")
    assert period == {"links": [], "periodname": "Jul 2026", "closed": "T", "isquarter": "F"}
    [jpy] = netsuite.rows("SELECT currencyprecision FROM currency WHERE symbol = 'JPY'")
    assert jpy["currencyprecision"] == "0"


def test_null_columns_are_left_out(netsuite: NetSuiteClient) -> None:
    [subscription] = netsuite.rows("SELECT id, enddate, status FROM subscription WHERE externalid = 'K0001'")
    assert subscription == {"links": [], "id": "400", "status": "ACTIVE"}


def test_where_comparisons_and_order_by(netsuite: NetSuiteClient) -> None:
    rows = netsuite.rows("SELECT id, usagequantity, usagedate FROM usage "
                         "WHERE usagesubscription = 400 AND usagedate >= TO_DATE('2026-08-01', 'YYYY-MM-DD') "
                         "AND usagedate <= '2026-08-31' AND id < 700 ORDER BY usagequantity DESC")
    assert [row["usagequantity"] for row in rows] == ["1234.5", "100.25", "7"]
    rows = netsuite.rows("SELECT id FROM usage WHERE (usagequantity > 1000 OR usagedate = '7/31/2026') "
                         "AND usagesubscription <> 400 AND id < 700 ORDER BY id")
    assert ids(rows) == ["612", "613"]
    rows = netsuite.rows("SELECT id FROM usage WHERE usagequantity != 800 AND usagequantity >= 700 "
                         "AND id < 700 ORDER BY usagesubscription ASC, usagequantity DESC")
    assert ids(rows) == ["600", "603", "612", "611"]


def test_is_null_in_like_and_aliases(netsuite: NetSuiteClient) -> None:
    assert ids(netsuite.rows("SELECT id FROM subscriptionline WHERE enddate IS NULL AND id <= 502 ORDER BY id")) == [
        "500", "501", "502"]
    assert netsuite.rows("SELECT id FROM subscription WHERE status IS NOT NULL AND id = 400") == [
        {"links": [], "id": "400"}]
    rows = netsuite.rows("SELECT s.externalid AS key FROM subscriptionline s "
                         "WHERE s.externalid LIKE 'K0001-%' ORDER BY key DESC")
    assert rows == [{"links": [], "key": "K0001-platform"}, {"links": [], "key": "K0001-api"}]
    assert ids(netsuite.rows("SELECT id FROM item WHERE externalid IN ('api_calls', 'nope')")) == ["200"]
    assert netsuite.rows("SELECT COUNT(*) AS n FROM accountingperiod WHERE closed = 'F'")[0]["n"] == "3"


def test_timestamps_compare_with_strings(netsuite: NetSuiteClient) -> None:
    everything = netsuite.rows("SELECT id FROM currency WHERE lastmodifieddate >= '1970-01-01 00:00:00' "
                               "ORDER BY lastmodifieddate, id")
    assert ids(everything) == ["1", "2", "3"]
    assert netsuite.rows("SELECT id FROM currency WHERE lastmodifieddate > '2999-01-01 00:00:00'") == []


def test_price_tiers_and_transactions_views(netsuite: NetSuiteClient) -> None:
    tiers = netsuite.rows("SELECT linenumber, fromval, toval, price FROM pricetiers WHERE priceplan = 301 "
                          "ORDER BY linenumber")
    assert tiers[0] == {"links": [], "linenumber": "1", "fromval": "0", "toval": "1000", "price": "0.02"}
    assert "toval" not in tiers[2]
    response = netsuite.suiteql("SELECT id, type, trandate FROM transaction WHERE type = 'Journal'")
    assert response.status_code == 200
    assert all(row["type"] == "Journal" for row in response.json()["items"])
    assert netsuite.suiteql("SELECT transaction, debitforeignamount FROM transactionline").status_code == 200


def test_query_needs_prefer_transient(netsuite: NetSuiteClient) -> None:
    response = netsuite.suiteql("SELECT id FROM currency", headers={"Prefer": "respond-sync"})
    assert response.status_code == 400


@pytest.mark.parametrize("statement", [
    "DELETE FROM customer WHERE id = 1",
    "UPDATE customer SET companyname = 'x' WHERE id = 1",
    "INSERT INTO customer (companyname) VALUES ('x')",
    "DROP TABLE customer",
])
def test_anything_but_select_is_refused(netsuite: NetSuiteClient, statement: str) -> None:
    query_error(netsuite.suiteql(statement))
    assert netsuite.record("customer", "1").json()["companyName"] == "Customer 0001"


@pytest.mark.parametrize("statement", [
    "SELECT id FROM nosuchtable",
    "SELECT nosuchcolumn FROM customer",
    "SELECT id FROM customer WHERE nosuchcolumn = 1",
    "SELECT id FROM customer ORDER BY nosuchcolumn",
    "SELECT id FROM customer c WHERE x.id = 1",
    "SELECT id FROM customer WHERE",
    "SELECT id FROM customer JOIN subsidiary ON customer.subsidiary = subsidiary.id",  # id in both: ambiguous
    "SELECT id FROM usage WHERE usagedate > 'not a date'",
])
def test_unknown_names_and_bad_syntax_are_refused(netsuite: NetSuiteClient, statement: str) -> None:
    query_error(netsuite.suiteql(statement))


def test_string_literals_with_quotes(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("C")
    body = {"externalId": external_id, "companyName": "O'Brien & Sons", "subsidiary": {"id": "1"}}
    assert netsuite.create("customer", body).status_code == 204
    [row] = netsuite.rows("SELECT externalid FROM customer WHERE companyname = 'O''Brien & Sons'")
    assert row["externalid"] == external_id


def test_numbers_keep_their_exact_digits(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("U")
    body = {"externalId": external_id, "usageSubscription": {"id": "400"}, "usageSubscriptionLine": {"id": "500"},
            "usageQuantity": Decimal("0.100000000000000000000001"), "usageDate": "2026-10-10"}
    assert netsuite.create("usage", body).status_code == 204
    [row] = netsuite.rows(f"SELECT usagequantity FROM usage WHERE externalid = '{external_id}'")
    assert row["usagequantity"] == "0.100000000000000000000001"
