"""The SuiteBilling bill run, and state persisted to a file."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from emulators.netsuite.billing import price

if TYPE_CHECKING:
    from tests.emulators.netsuite_fixtures import NetSuiteClient

pytest_plugins = ["tests.emulators.netsuite_fixtures"]

AUGUST = {"period_start": "2026-08-01", "period_end": "2026-08-31"}


def bill(netsuite: NetSuiteClient, period: dict) -> list[str]:
    response = netsuite.control("POST", "billing", period)
    assert response.status_code == 200, response.text
    return response.json()["invoice_ids"]


def test_billing_rates_unit_graduated_and_flat_plans_to_the_cent(netsuite_factory) -> None:
    netsuite = netsuite_factory()
    invoice_ids = bill(netsuite, AUGUST)
    assert len(invoice_ids) == 2
    k1 = netsuite.record("invoice", "eid:BILL:K0001:2026-08-01:2026-08-31").json()
    k2 = netsuite.record("invoice", "eid:BILL:K0002:2026-08-01:2026-08-31").json()
    assert {k1["id"], k2["id"]} == set(invoice_ids)

    # K0001: unit plan 0.0125 x (1234.5 + 100.25 + 7) = 16.771875 -> 16.77; platform fee 499.00
    usage_line, fee_line = k1["item"]["items"]
    assert Decimal(str(usage_line["quantity"])) == Decimal("1341.75")
    assert Decimal(str(usage_line["amount"])) == Decimal("16.77")
    assert usage_line["subscriptionLine"] == {"id": "500"}
    assert [ref["id"] for ref in usage_line["usage"]] == ["600", "601", "602"]  # not 603 (September)
    assert (fee_line["subscriptionLine"], Decimal(str(fee_line["amount"]))) == ({"id": "501"}, Decimal("499.00"))
    assert Decimal(str(k1["total"])) == Decimal("515.77")
    assert k1["entity"] == {"id": "1"} and k1["subscription"] == {"id": "400"}
    assert k1["tranDate"] == "2026-08-31" and k1["postingPeriod"] == {"id": "101"}

    # K0002: graduated 1000 x 0.02 + 9000 x 0.015 + 2500.5 x 0.01 = 180.005 -> 180.01 (half up)
    [line] = k2["item"]["items"]
    assert Decimal(str(line["quantity"])) == Decimal("12500.5")
    assert Decimal(str(line["amount"])) == Decimal("180.01")
    assert [ref["id"] for ref in line["usage"]] == ["610", "611", "612"]  # not 613 (July)
    assert Decimal(str(k2["total"])) == Decimal("180.01")

    # SuiteQL sees the same numbers, exactly
    rows = netsuite.rows("SELECT id, foreigntotal, type, tranid FROM transaction WHERE type = 'CustInvc' ORDER BY id")
    assert [row["foreigntotal"] for row in rows] == ["515.77", "180.01"]
    lines = netsuite.rows(f"SELECT subscriptionline, quantity, netamount, usage FROM transactionline "
                          f"WHERE transaction = {k1['id']} ORDER BY id")
    assert lines[0] == {"links": [], "subscriptionline": "500", "quantity": "1341.75", "netamount": "16.77",
                        "usage": "600,601,602"}


def test_billing_a_period_twice_makes_no_new_invoice(netsuite_factory) -> None:
    netsuite = netsuite_factory()
    first = bill(netsuite, AUGUST)
    assert bill(netsuite, AUGUST) == first
    assert netsuite.app.run_billing(date(2026, 8, 1), date(2026, 8, 31)) == first
    assert len(netsuite.rows("SELECT id FROM transaction WHERE type = 'CustInvc'")) == 2


def test_billing_another_period(netsuite_factory) -> None:
    netsuite = netsuite_factory()
    september = netsuite.app.run_billing(date(2026, 9, 1), date(2026, 9, 30))
    k1 = netsuite.record("invoice", "eid:BILL:K0001:2026-09-01:2026-09-30").json()
    assert [Decimal(str(line["amount"])) for line in k1["item"]["items"]] == [Decimal("12.49"), Decimal("499.00")]
    # K0002 has no September usage and no recurring line: no invoice
    assert september == [k1["id"]]


def test_billing_control_refuses_a_bad_period(netsuite: NetSuiteClient) -> None:
    assert netsuite.control("POST", "billing", {"period_start": "2026-08-01"}).status_code == 400


@pytest.mark.parametrize("model, tiers, quantity, package_size, expected", [
    ("unit", [(0, None, "0.5", 0)], "3", None, "1.5"),
    ("graduated", [(0, 10, "1", "5"), (10, None, "0.5", 0)], "14", None, "17"),
    ("volume", [(0, 10, "1", 0), (10, 100, "0.5", "2"), (100, None, "0.1", 0)], "14", None, "9"),
    ("package", [(0, None, "20", 0)], "101", "50", "60"),
    ("package", [(0, 100, "0", 0), (100, None, "20", 0)], "101", "50", "20"),
    ("flat", [(0, None, "499.00", 0)], "12345", None, "499.00"),
])
def test_price_models(model, tiers, quantity, package_size, expected) -> None:
    plan = [{"fromVal": Decimal(lo), "toVal": None if hi is None else Decimal(hi), "price": Decimal(p),
             "flatFee": Decimal(fee)} for lo, hi, p, fee in tiers]
    size = Decimal(package_size) if package_size else None
    assert price(model, plan, Decimal(quantity), size) == Decimal(expected)


def test_state_round_trips_through_the_state_file(netsuite_factory, tmp_path) -> None:
    state_file = tmp_path / "netsuite-state.json"
    first = netsuite_factory(state_file=state_file)
    external_id = first.unique("PERSIST")
    body = {"externalId": external_id, "usageSubscription": {"id": "400"}, "usageSubscriptionLine": {"id": "500"},
            "usageQuantity": Decimal("0.333333333333333333"), "usageDate": "2026-10-03"}
    created = first.create("usage", body)
    assert created.status_code == 204
    usage_id = created.headers["Location"].rsplit("/", 1)[-1]
    invoice_ids = bill(first, AUGUST)
    assert first.control("POST", "accountingperiods/103/close").json()["closed"] is True
    assert first.control("POST", "save").status_code == 200
    assert state_file.exists()

    # a new emulator with the same state file and no seed holds the same records
    second = netsuite_factory(state_file=state_file, seed_file=None)
    stored = second.record("usage", usage_id).json()
    assert stored["externalId"] == external_id
    [row] = second.rows(f"SELECT usagequantity, customer FROM usage WHERE id = {usage_id}")
    assert row["usagequantity"] == "0.333333333333333333" and row["customer"] == "1"
    assert second.rows("SELECT closed FROM accountingperiod WHERE id = 103")[0]["closed"] == "T"
    page = second.suiteql(f"SELECT id FROM customer WHERE id <= {second.seed_customers}").json()
    assert page["totalResults"] == second.seed_customers
    assert bill(second, AUGUST) == invoice_ids  # billing stays idempotent across restarts
    assert second.record("subscription", "eid:K0002").json()["subscriptionLine"]["items"][0]["id"] == "502"

    # new records continue after the highest internal ID instead of reusing one
    again = second.create("usage", {**body, "externalId": second.unique("PERSIST")})
    assert int(again.headers["Location"].rsplit("/", 1)[-1]) > int(usage_id)
    assert second.app.store.snapshot()["records"]["invoice"] == first.app.store.snapshot()["records"]["invoice"]


def test_reset_goes_back_to_the_seed(netsuite_factory, tmp_path) -> None:
    netsuite = netsuite_factory(state_file=tmp_path / "state.json")
    external_id = netsuite.unique("RESET")
    body = {"externalId": external_id, "companyName": "Gone after reset", "subsidiary": {"id": "1"}}
    assert netsuite.create("customer", body).status_code == 204
    bill(netsuite, AUGUST)
    assert netsuite.control("POST", "reset").status_code == 200
    assert netsuite.record("customer", f"eid:{external_id}").status_code == 404
    assert netsuite.rows("SELECT id FROM transaction") == []
    assert netsuite.record("customer", "eid:C0001").status_code == 200
