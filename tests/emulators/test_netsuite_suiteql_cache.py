"""SuiteQL keeps a view row per record between writes (rebuilt only for the records written
since): every query must still see each write, delete and new custom field at once."""
from __future__ import annotations

import json

from emulators.netsuite import NetSuiteApp, suiteql

KEYS = {name: name * 8 for name in ("consumer_key", "consumer_secret", "token_id", "token_secret")}


def _customer(external_id: str, name: str, **custom) -> dict:
    return {"externalId": external_id, "companyName": name, "subsidiary": {"id": "1"}, **custom}


def _names(app: NetSuiteApp, where: str = "") -> dict[str, str]:
    rows = suiteql.execute(app.store, f"SELECT externalid, companyname FROM customer {where}")
    return {row["externalid"]: row["companyname"] for row in rows if row["externalid"].startswith("cache:")}


def test_each_query_sees_the_writes_deletes_and_custom_fields_since_the_last_one(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"subsidiary": [{"id": "1", "name": "Parent"}]}))
    app = NetSuiteApp("1234567", **KEYS, seed_file=seed)
    for n in range(3):
        app.records.upsert("customer", f"cache:{n}", _customer(f"cache:{n}", f"Customer {n}"), set())
    in_list = "WHERE externalid IN ('cache:0', 'cache:1', 'cache:2')"
    assert _names(app, in_list) == {"cache:0": "Customer 0", "cache:1": "Customer 1", "cache:2": "Customer 2"}

    app.records.upsert("customer", "cache:1", _customer("cache:1", "Renamed"), set())
    assert _names(app, in_list)["cache:1"] == "Renamed"
    assert _names(app)["cache:1"] == "Renamed"

    app.records.delete("customer", "eid:cache:0")
    assert set(_names(app, in_list)) == {"cache:1", "cache:2"}

    app.records.upsert("customer", "cache:3", _customer("cache:3", "New", custentity_tier="gold"), set())
    rows = suiteql.execute(app.store, "SELECT externalid, custentity_tier FROM customer "
                                      "WHERE custentity_tier IS NOT NULL")
    assert rows == [{"externalid": "cache:3", "custentity_tier": "gold"}]
    # IDs keep their order: a record written again does not move.
    ordered = [row["externalid"] for row in suiteql.execute(
        app.store, "SELECT externalid FROM customer WHERE externalid LIKE 'cache:%'")]
    assert ordered == ["cache:1", "cache:2", "cache:3"]
