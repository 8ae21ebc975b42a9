"""Seed loading, state persistence (save and load back) and the reset control."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from emulators.salesforce import SalesforceApp, SeedError
from tests.emulators.salesforce_fixtures import (  # noqa: F401 - fixtures
    ACCOUNT_1, CLIENT_ID, CLIENT_SECRET, USAGE_ROWS, as_json, build_seed, sf_certificates, sf_factory, write_seed,
)


def test_state_round_trip(sf_factory, tmp_path: Path) -> None:
    seed = write_seed(tmp_path / "seed.json", build_seed(usage_rows=5))
    state = tmp_path / "state" / "salesforce.json"
    first = sf_factory(seed_file=seed, state_file=state).login()
    created = first.patch("/sobjects/Account/Customer_Key__c/C-KEEP",
                          {"Name": "Kept", "Credit_Balance__c": Decimal("0.10"), "Credit_Runout_Date__c": "2027-01-31"})
    assert created.status_code == 201
    new_id = created.json()["id"]
    victim = first.query("SELECT Id FROM Usage_Summary__c WHERE External_Id__c = 'US-00001'").json()["records"][0]["Id"]
    assert first.delete(f"/sobjects/Usage_Summary__c/{victim}").status_code == 204
    assert first.patch(f"/sobjects/Account/{ACCOUNT_1}", {"Usage_Alert__c": "90% used"}).status_code == 204
    before = {name: first.records(name) for name in ("Account", "Usage_Summary__c", "Contract_Line__c")}
    assert first.control("POST", "save").json()["saved"] == str(state)
    saved = json.loads(state.read_text(), parse_float=Decimal)
    assert {"Account", "Contract", "Contract_Line__c", "Price_Tier__c", "Amendment__c", "Usage_Summary__c"} <= set(saved)
    assert '"Credit_Balance__c": 0.10' in state.read_text()  # exact digits on disk too

    second = sf_factory(seed_file=seed, state_file=state).login()  # the state wins over the seed
    assert {name: second.records(name) for name in before} == before
    kept = as_json(second.get(f"/sobjects/Account/{new_id}"))
    assert kept["Credit_Balance__c"] == Decimal("0.10") and kept["Credit_Runout_Date__c"] == "2027-01-31"
    assert second.query("SELECT Id FROM Usage_Summary__c WHERE Id = '" + victim + "'", endpoint="queryAll") \
        .json()["records"][0]["Id"] == victim
    assert second.query("SELECT COUNT() FROM Usage_Summary__c").json()["totalSize"] == 4
    # ids are not reused and stamps keep increasing after a restart
    newest = max(r["SystemModstamp"] for r in second.records("Account"))
    again = second.post("/sobjects/Account", {"Name": "After restart"}).json()["id"]
    assert again != new_id
    [after] = [r for r in second.records("Account") if r["Id"] == again]
    assert after["SystemModstamp"] > newest


def test_save_through_the_app(tmp_path: Path) -> None:
    app = SalesforceApp(CLIENT_ID, CLIENT_SECRET, seed_file=write_seed(tmp_path / "seed.json", build_seed(3)))
    path = app.save(tmp_path / "copy.json")
    reloaded = SalesforceApp(CLIENT_ID, CLIENT_SECRET, state_file=path)
    assert reloaded.store.snapshot() == app.store.snapshot()


def test_reset_goes_back_to_the_seed(sf_factory, tmp_path: Path) -> None:
    seed = write_seed(tmp_path / "seed.json", build_seed(usage_rows=3))
    client = sf_factory(seed_file=seed).login()
    client.patch("/sobjects/Account/Customer_Key__c/C-GONE", {"Name": "Temporary"})
    client.control("POST", "api-usage", {"used": 42})
    counts = client.control("POST", "reset").json()["counts"]
    assert counts["Usage_Summary__c"] == {"live": 3, "deleted": 0}
    assert [r for r in client.records("Account") if r["Customer_Key__c"] == "C-GONE"] == []
    assert client.control("GET", "api-usage").json()["used"] == 0
    state = client.control("GET", "state").json()
    assert state["counts"]["Account"]["live"] == 3


def test_seed_without_stamps_gets_them(tmp_path: Path) -> None:
    app = SalesforceApp(CLIENT_ID, CLIENT_SECRET, seed_file=write_seed(tmp_path / "seed.json", build_seed(3)))
    for table in app.store.tables.values():
        for record in table.values():
            assert record["SystemModstamp"] and record["CreatedDate"] and record["IsDeleted"] is False
            assert len(record["Id"]) == 18


@pytest.mark.parametrize("mutate, message", [
    (lambda seed: seed.update(Lead=[{"Name": "x"}]), "unknown object"),
    (lambda seed: seed["Account"][0].update(Colour__c="red"), "unknown field"),
    (lambda seed: seed["Account"][0].update(Credit_Balance__c="12.5"), "Credit_Balance__c"),
    (lambda seed: seed["Contract"][0].update(AccountId="001000000000099AAA"), "points at no Account"),
    (lambda seed: seed["Account"][1].update(Customer_Key__c="C0001"), "Customer_Key__c"),
    (lambda seed: seed["Account"][0].update(Id="800000000000001AAA"), "prefix 001"),
])
def test_seed_errors_are_reported(tmp_path: Path, mutate, message: str) -> None:
    seed = build_seed(usage_rows=2)
    mutate(seed)
    with pytest.raises(SeedError, match=message):
        SalesforceApp(CLIENT_ID, CLIENT_SECRET, seed_file=write_seed(tmp_path / "seed.json", seed))


def test_full_seed_loads(tmp_path: Path) -> None:
    app = SalesforceApp(CLIENT_ID, CLIENT_SECRET, seed_file=write_seed(tmp_path / "seed.json"))
    assert app.store.counts()["Usage_Summary__c"]["live"] == USAGE_ROWS
