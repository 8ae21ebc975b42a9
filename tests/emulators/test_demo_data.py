"""Tests of the deterministic demo-data generator (emulators.demo_data).

The data set is generated for real at a small size; the checks re-derive everything from the
files (seeds, JSON Lines, Parquet) independently of the generator's own bookkeeping.
"""

from __future__ import annotations

import calendar
import csv
import hashlib
import json
import re
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from emulators.demo_data import generate

REPO = Path(__file__).resolve().parents[2]
SMALL = dict(customers=12, events=20_000, days=40)
START = date(2026, 8, 1)
BAD_KINDS = {"exact_duplicate", "conflicting_duplicate", "late_arrival", "missing_event_id",
             "unknown_customer", "unknown_meter", "negative_quantity", "non_numeric_quantity",
             "unparseable_timestamp"}
MONEY = {"Amount__c", "Package_Price__c", "Fixed_Fee__c", "Free_Amount__c", "Min_Per_Event__c",
         "Max_Per_Event__c", "Flat_Fee__c", "New_Amount__c", "Credit_Balance__c"}
UNIT_PRICES = {"Unit_Price__c", "New_Unit_Price__c"}
RATES = {"Rate__c", "Expected_Breakage_Rate__c"}


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    a, b = tmp_path_factory.mktemp("demo_a"), tmp_path_factory.mktemp("demo_b")
    return generate(a, **SMALL), a, generate(b, **SMALL), b


@pytest.fixture(scope="module")
def out(runs):
    return runs[1]


@pytest.fixture(scope="module")
def manifest(runs):
    return runs[0]


@pytest.fixture(scope="module")
def sf(out):
    return json.loads((out / "salesforce/seed.json").read_text(), parse_float=Decimal)


@pytest.fixture(scope="module")
def ns(out):
    return json.loads((out / "netsuite/seed.json").read_text(), parse_float=Decimal)


def _month_end(d: date) -> date:
    return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def _load_events(root: Path) -> dict[str, list[tuple[date, dict]]]:
    """Every row of every file, per source, in load order (folder date, file number, row)."""
    result = {}
    for src_dir in sorted((root / "usage").iterdir()):
        rows = []
        folders = sorted(p for p in src_dir.iterdir() if p.is_dir())
        for folder in folders:
            day = date.fromisoformat(folder.name)
            files = sorted(folder.iterdir(), key=lambda p: int(re.fullmatch(r"events-(\d+)\.\w+", p.name)[1]))
            for f in files:
                if f.suffix == ".jsonl":
                    rows += [(day, json.loads(line)) for line in f.read_text().splitlines()]
                else:
                    for ev in pq.read_table(f).to_pylist():
                        ev["properties"] = json.loads(ev["properties"])
                        rows.append((day, ev))
        result[src_dir.name] = rows
    return result


@pytest.fixture(scope="module")
def events(out):
    return _load_events(out)


def _meters() -> set[str]:
    with open(REPO / "dbt_project/seeds/meters.csv", newline="") as fh:
        return {row["meter_id"] for row in csv.DictReader(fh)}


# --- determinism and layout ------------------------------------------------------------------

def test_same_arguments_give_identical_bytes(runs):
    m1, a, m2, b = runs
    ha, hb = _hashes(a), _hashes(b)
    assert ha == hb
    assert m1 == m2
    assert len(ha) > 50


def test_layout_and_watermarks(out, manifest):
    assert (out / "salesforce/seed.json").is_file() and (out / "netsuite/seed.json").is_file()
    assert json.loads((out / "manifest.json").read_text()) == manifest
    formats = {"product_api": "jsonl", "batch_metering": "parquet"}
    assert set(manifest["usage_sources"]) == set(formats)
    end = START + timedelta(SMALL["days"])
    for src, ext in formats.items():
        wm = json.loads((out / "usage" / src / "_watermark.json").read_text())
        assert wm["source"] == src
        info = manifest["usage_sources"][src]
        assert wm["complete_through"] == info["complete_through"]
        through = datetime.fromisoformat(wm["complete_through"])
        assert through.tzinfo is not None and end - timedelta(1) <= through.date() <= end
        for folder in (out / "usage" / src).iterdir():
            if folder.is_dir():
                assert START <= date.fromisoformat(folder.name) < end
                for f in folder.iterdir():
                    assert re.fullmatch(rf"events-[1-9]\.{ext}", f.name)
    assert manifest["usage_sources"]["product_api"]["complete_through"] == f"{end.isoformat()}T00:00:00Z"


def test_parquet_columns_are_all_strings(out):
    f = next((out / "usage/batch_metering").glob("*/events-1.parquet"))
    schema = pq.read_schema(f)
    assert schema.names == ["event_id", "customer_id", "meter", "quantity", "amount", "timestamp",
                            "properties", "source"]
    assert all(str(t) == "string" for t in schema.types)


def test_rerun_replaces_cleanly(tmp_path):
    generate(tmp_path, customers=6, events=3000, days=35)
    stray = tmp_path / "usage/product_api/2020-01-01/events-1.jsonl"
    stray.parent.mkdir(parents=True)
    stray.write_text("{}\n")
    (tmp_path / "keep.txt").write_text("not ours")
    generate(tmp_path, customers=6, events=2000, days=35)
    assert not stray.exists()
    assert (tmp_path / "keep.txt").read_text() == "not ours"
    fresh = tmp_path / "fresh"
    generate(fresh, customers=6, events=2000, days=35)
    ours = {k: v for k, v in _hashes(tmp_path).items() if not k.startswith(("fresh", "keep"))}
    assert ours == _hashes(fresh)


def test_meter_catalogue_matches_dbt_seed():
    from emulators.demo_data.catalog import METERS
    with open(REPO / "dbt_project/seeds/meters.csv", newline="") as fh:
        rows = {r["meter_id"]: (r["aggregation"], r["property"], r["unit"]) for r in csv.DictReader(fh)}
    assert rows == METERS


# --- contract coverage -----------------------------------------------------------------------

def _clean_lines(sf, manifest) -> list[dict]:
    """The seed's contract lines but the CRM defects the demo data carries on purpose (the
    manifest's bad_contract_lines, quarantined by the warehouse: test_the_demo_defect_...)."""
    defects = {key for keys in manifest["bad_contract_lines"].values() for key in keys}
    return [ln for ln in sf["Contract_Line__c"] if ln["Line_Key__c"] not in defects]


def test_the_demo_defect_is_one_salesforce_line_finer_than_its_currency(sf, ns, manifest):
    [key] = manifest["bad_contract_lines"]["amount_finer_than_currency"]
    [line] = [ln for ln in sf["Contract_Line__c"] if ln["Line_Key__c"] == key]
    currency = {c["Id"]: c["CurrencyIsoCode"] for c in sf["Contract"]}[line["Contract__c"]]
    assert (currency, line["Amount__c"]) in {("JPY", Decimal("4500.50")), ("USD", Decimal("99.995"))}
    assert line["NetSuite_Subscription_Line_Id__c"] is None  # sold in the CRM only
    assert key not in {sl["externalId"] for sl in ns["subscriptionline"]}
    assert len(_clean_lines(sf, manifest)) == len(sf["Contract_Line__c"]) - 1


def test_every_line_kind_model_frequency_anchor_and_amendment_present(sf, manifest):
    lines, contracts = _clean_lines(sf, manifest), sf["Contract"]
    assert {ln["Kind__c"] for ln in lines} == {
        "recurring_fee", "usage", "minimum_commitment", "prepaid_credit", "one_time"}
    assert {ln["Timing__c"] for ln in lines if ln["Kind__c"] == "recurring_fee"} == {"in_advance", "in_arrears"}
    assert {ln["Price_Model__c"] for ln in lines if ln["Kind__c"] == "usage"} == {
        "unit", "graduated", "volume", "package", "percentage", "graduated_percentage"}
    assert {ln["Breakage__c"] for ln in lines if ln["Kind__c"] == "prepaid_credit"} == {"at_expiry", "proportional"}
    assert {ln["Revenue_Rule__c"] for ln in lines if ln["Kind__c"] == "one_time"} == {"point_in_time", "ratable_daily"}
    assert any(ln["Included_Quantity__c"] for ln in lines)
    minimums = [ln for ln in lines if ln["Kind__c"] == "minimum_commitment"]
    assert any(m["Applies_To__c"] for m in minimums) and any(m["Applies_To__c"] is None for m in minimums)
    meters = _meters()
    for ln in lines:
        if ln["Kind__c"] == "usage":
            assert ln["Meter__c"] in meters
            if "percentage" in ln["Price_Model__c"]:
                assert ln["Meter__c"] == "payments_volume"
    assert {c["Billing_Frequency__c"] for c in contracts} == {"monthly", "quarterly", "annual"}
    assert {c["Billing_Anchor__c"] for c in contracts} == {"start", "calendar"}
    start_days = {date.fromisoformat(c["StartDate"]).day for c in contracts if c["Billing_Anchor__c"] == "start"}
    assert {29, 30, 31} <= start_days
    starts = [date.fromisoformat(c["StartDate"]) for c in contracts]
    assert any(s < START for s in starts) and any(START < s < START + timedelta(SMALL["days"]) for s in starts)
    amendments = sf["Amendment__c"]
    assert {a["Type__c"] for a in amendments} == {"upgrade", "downgrade", "price_change", "cancellation"}
    assert {a["Status__c"] for a in amendments} == {"Activated", "Pending"}
    assert all(a["Cancel__c"] == (a["Type__c"] == "cancellation") for a in amendments)
    amended_tiers = {t["Amendment__c"] for t in sf["Price_Tier__c"] if t["Amendment__c"]}
    assert amended_tiers and amended_tiers <= {a["Id"] for a in amendments if a["Type__c"] == "price_change"}
    in_range = [a for a in amendments
                if START <= date.fromisoformat(a["Effective_Date__c"]) < START + timedelta(SMALL["days"])]
    assert in_range
    accounts = sf["Account"]
    assert {a["CurrencyIsoCode"] for a in accounts} == {"USD", "EUR", "JPY"}
    assert {a["Subsidiary__c"] for a in accounts} == {"US", "EU"}
    assert [a["Customer_Key__c"] for a in accounts] == [f"C{i:04d}" for i in range(1, 13)]
    # the manifest counts what the seed holds
    counts = manifest["counts"]
    assert counts["lines_by_kind"] == dict(Counter(ln["Kind__c"] for ln in lines))
    assert counts["amendments_by_type"] == dict(Counter(a["Type__c"] for a in amendments))
    assert counts["contracts"] == len(contracts) and counts["customers"] == 12


def test_salesforce_standard_fields_and_ids(sf):
    prefixes = {"Account": "001", "Contract": "800", "Contract_Line__c": "a01", "Price_Tier__c": "a02",
                "Amendment__c": "a03"}
    seen = set()
    for obj, prefix in prefixes.items():
        for r in sf[obj]:
            rid = r["Id"]
            assert len(rid) == 18 and rid.startswith(prefix) and rid not in seen
            seen.add(rid)
            suffix = "".join("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[
                sum(1 << i for i, ch in enumerate(rid[k * 5:k * 5 + 5]) if ch.isupper())] for k in range(3))
            assert rid[15:] == suffix
            assert r["IsDeleted"] is False
            for f in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
                assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000", r[f])
            assert r["CreatedDate"] <= r["LastModifiedDate"] == r["SystemModstamp"] < f"{START}T"
    assert sf["Usage_Summary__c"] == []


# --- references between the two systems ------------------------------------------------------

def test_references_are_consistent(sf, ns, manifest):
    sub_by_id = {s["id"]: s for s in ns["subscription"]}
    sline_by_id = {s["id"]: s for s in ns["subscriptionline"]}
    cust_by_id = {c["id"]: c for c in ns["customer"]}
    account = {a["Id"]: a for a in sf["Account"]}
    contract = {c["Id"]: c for c in sf["Contract"]}
    line = {ln["Id"]: ln for ln in sf["Contract_Line__c"]}
    for a in sf["Account"]:
        assert cust_by_id[a["NetSuite_Customer_Id__c"]]["externalId"] == a["Customer_Key__c"]
    for c in sf["Contract"]:
        if c["Status"] == "Draft":
            assert c["NetSuite_Subscription_Id__c"] is None
            continue
        sub = sub_by_id[c["NetSuite_Subscription_Id__c"]]
        assert sub["externalId"] == c["Contract_Key__c"]
        cust = cust_by_id[sub["customer"]["id"]]
        assert cust["externalId"] == account[c["AccountId"]]["Customer_Key__c"]
        assert sub["startDate"] == c["StartDate"] and sub["endDate"] == c["EndDate"]
    for ln in _clean_lines(sf, manifest):
        c = contract[ln["Contract__c"]]
        assert ln["Line_Key__c"].startswith(c["Contract_Key__c"] + "-")
        if c["Status"] == "Draft":
            assert ln["NetSuite_Subscription_Line_Id__c"] is None
            continue
        sl = sline_by_id[ln["NetSuite_Subscription_Line_Id__c"]]
        assert sl["externalId"] == ln["Line_Key__c"]
        assert sl["subscription"]["id"] == c["NetSuite_Subscription_Id__c"]
        assert {"id": sl["id"]} in sub_by_id[sl["subscription"]["id"]]["subscriptionLine"]["items"]
        siblings = {x["Line_Key__c"] for x in sf["Contract_Line__c"] if x["Contract__c"] == c["Id"]}
        if ln["Applies_To__c"]:
            assert set(ln["Applies_To__c"].split(";")) <= siblings
    for t in sf["Price_Tier__c"]:
        assert (t["Contract_Line__c"] is None) != (t["Amendment__c"] is None)
        assert t["Contract_Line__c"] is None or t["Contract_Line__c"] in line
    for a in sf["Amendment__c"]:
        assert line[a["Contract_Line__c"]]["Contract__c"] == a["Contract__c"]
    ids = {rtype: {r["id"] for r in recs} for rtype, recs in ns.items()}
    for sl in ns["subscriptionline"]:
        assert sl["pricePlan"]["id"] in ids["priceplan"] and sl["item"]["id"] in ids["item"]
    for rtype in ("customer", "subscription", "priceplan"):
        for r in ns[rtype]:
            assert r["currency"]["id"] in ids["currency"]
    assert {c["symbol"]: c["currencyPrecision"] for c in ns["currency"]} == {"USD": 2, "EUR": 2, "JPY": 0}
    roles = {a["externalId"] for a in ns["account"]}
    assert {"ar", "unbilled_ar", "deferred_revenue", "deferred_revenue_prepaid", "revenue_subscription",
            "revenue_usage", "revenue_minimum", "revenue_breakage"} == roles


def test_price_plans_follow_the_line(sf, ns):
    plan = {p["id"]: p for p in ns["priceplan"]}
    sline = {s["externalId"]: s for s in ns["subscriptionline"]}
    tiers = Counter(t["Contract_Line__c"] for t in sf["Price_Tier__c"] if t["Contract_Line__c"])
    expected = {"unit": "unit", "graduated": "graduated", "volume": "volume", "package": "package",
                "percentage": "unit", "graduated_percentage": "graduated", None: "flat"}
    for ln in sf["Contract_Line__c"]:
        if ln["NetSuite_Subscription_Line_Id__c"] is None:
            continue
        p = plan[sline[ln["Line_Key__c"]]["pricePlan"]["id"]]
        assert p["priceModelType"] == expected[ln["Price_Model__c"]]
        if ln["Price_Model__c"] in ("graduated", "volume", "graduated_percentage"):
            assert len(p["priceTiers"]["items"]) == tiers[ln["Id"]]
        if ln["Price_Model__c"] == "unit":
            assert p["priceTiers"]["items"][0]["price"] == ln["Unit_Price__c"]


def test_rates_and_accounting_periods(ns):
    periods = ns["accountingperiod"]
    assert [p["periodName"] for p in periods] == [f"{calendar.month_abbr[m]} 2026" for m in range(1, 13)]
    for p in periods:
        assert p["closed"] is (date.fromisoformat(p["endDate"]) <= date(2026, 8, 31))
        assert p["isQuarter"] is False and p["isYear"] is False
    rates = ns["currencyrate"]
    assert all(isinstance(r["exchangeRate"], str) and Decimal(r["exchangeRate"]) > 0 for r in rates)
    pairs = {(r["baseCurrency"]["id"], r["transactionCurrency"]["id"]) for r in rates}
    assert len(pairs) == 4
    dates = {r["effectiveDate"] for r in rates}
    assert START.isoformat() in dates and (START + timedelta(SMALL["days"] - 1)).isoformat() in dates


def test_periods_close_relative_to_start_date(tmp_path):
    generate(tmp_path, customers=6, events=500, days=20, start_date=date(2026, 3, 15))
    ns = json.loads((tmp_path / "netsuite/seed.json").read_text())
    closed = [p["periodName"] for p in ns["accountingperiod"] if p["closed"]]
    assert closed == ["Jan 2026", "Feb 2026", "Mar 2026"]  # end before Apr 15


# --- numbers ---------------------------------------------------------------------------------

def _places(d: Decimal) -> int:
    return max(0, -d.as_tuple().exponent)


def test_seed_numbers_have_no_float_noise(out, sf, ns, manifest):
    for name in ("salesforce", "netsuite"):
        text = (out / name / "seed.json").read_text()
        assert not re.search(r"[:,\[]\s*-?\d+(\.\d+)?[eE][+-]?\d", text), "exponent notation"
    currency_of_contract = {c["Id"]: c["CurrencyIsoCode"] for c in sf["Contract"]}
    currency_of_line = {ln["Id"]: currency_of_contract[ln["Contract__c"]] for ln in sf["Contract_Line__c"]}
    currency_of_amendment = {a["Id"]: currency_of_contract[a["Contract__c"]] for a in sf["Amendment__c"]}
    checked = Counter()
    clean = {id(ln) for ln in _clean_lines(sf, manifest)}
    for obj, records in sf.items():
        for r in records:
            if obj == "Contract_Line__c" and id(r) not in clean:
                continue
            cur = (currency_of_contract.get(r.get("Id")) or currency_of_line.get(r.get("Id"))
                   or currency_of_line.get(r.get("Contract_Line__c")) or currency_of_amendment.get(r.get("Amendment__c"))
                   or currency_of_contract.get(r.get("Contract__c")) or r.get("CurrencyIsoCode"))
            for field, v in r.items():
                if isinstance(v, (Decimal, int)) and not isinstance(v, bool):
                    d = Decimal(v)
                    limit = 2 if field in MONEY else 6 if field in UNIT_PRICES else 4 if field in RATES else 0
                    assert _places(d) <= limit, (obj, field, v)
                    if field in MONEY and cur == "JPY":
                        assert d == d.to_integral_value(), (obj, field, v)
                        checked["jpy"] += 1
    assert checked["jpy"] > 0

    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                yield from walk(x)
        elif isinstance(v, list):
            for x in v:
                yield from walk(x)
        elif isinstance(v, Decimal):
            yield v
    assert all(_places(d) <= 8 for d in walk(ns))
    jpy = next(c["id"] for c in ns["currency"] if c["symbol"] == "JPY")
    for p in ns["priceplan"]:
        if p["currency"]["id"] == jpy:
            for t in p["priceTiers"]["items"]:
                assert Decimal(t["flatFee"]) == Decimal(t["flatFee"]).to_integral_value()
                if p["priceModelType"] in ("flat", "package"):
                    assert Decimal(t["price"]) == Decimal(t["price"]).to_integral_value()


# --- usage events ----------------------------------------------------------------------------

def _classify(events, sf, manifest):
    """Independent classification in load order; returns (bad counts, good first occurrences)."""
    customers = {a["Customer_Key__c"] for a in sf["Account"]}
    meters = _meters()
    bad, good = Counter(), []
    for src, rows in events.items():
        lag = manifest["usage_sources"][src]["delivery_lag_days"]
        seen = {}
        for folder, ev in rows:
            eid = ev.get("event_id")
            if not eid:
                bad["missing_event_id"] += 1
                continue
            if ev["customer_id"] not in customers:
                bad["unknown_customer"] += 1
                continue
            if ev["meter"] not in meters:
                bad["unknown_meter"] += 1
                continue
            try:
                qty = Decimal(ev["quantity"])
                ok = qty.is_finite()
            except InvalidOperation:
                ok = False
            if not ok:
                bad["non_numeric_quantity"] += 1
                continue
            if qty < 0:
                bad["negative_quantity"] += 1
                continue
            try:
                ts = datetime.fromisoformat(ev["timestamp"])
                assert ts.tzinfo is not None
            except ValueError:
                bad["unparseable_timestamp"] += 1
                continue
            if eid in seen:
                bad["exact_duplicate" if seen[eid] == ev else "conflicting_duplicate"] += 1
                continue
            seen[eid] = ev
            if _month_end(ts.date()) < folder - timedelta(lag):
                bad["late_arrival"] += 1
            good.append((src, folder, ts, ev))
    return bad, good


@pytest.fixture(scope="module")
def classified(events, sf, manifest):
    return _classify(events, sf, manifest)


def test_bad_events_recounted_from_files_match_manifest(events, classified, manifest):
    bad, good = classified
    assert set(manifest["bad_events"]) == BAD_KINDS
    for kind in BAD_KINDS:
        assert manifest["bad_events"][kind] > 0, kind
        assert bad[kind] == manifest["bad_events"][kind], kind
    rows = sum(len(v) for v in events.values())
    assert rows == manifest["events_written"] == SMALL["events"]
    assert len(good) == manifest["good_events"]
    for src, info in manifest["usage_sources"].items():
        assert len(events[src]) == info["rows"]


def test_event_fields(events):
    for src, rows in events.items():
        for _, ev in rows:
            assert set(ev) <= {"event_id", "customer_id", "meter", "quantity", "amount", "timestamp",
                               "properties", "source"}
            assert ev["source"] == src and isinstance(ev["quantity"], str)
            assert isinstance(ev["properties"], dict)


def test_good_events_belong_to_active_usage_lines(classified, sf):
    _, good = classified
    contract = {c["Id"]: c for c in sf["Contract"]}
    account = {a["Id"]: a for a in sf["Account"]}
    ends = {a["Contract_Line__c"]: date.fromisoformat(a["Effective_Date__c"]) - timedelta(1)
            for a in sf["Amendment__c"] if a["Cancel__c"] and a["Status__c"] == "Activated"}
    windows: dict[tuple[str, str], list] = {}
    for ln in sf["Contract_Line__c"]:
        c = contract[ln["Contract__c"]]
        if ln["Kind__c"] == "usage" and c["Status"] == "Activated":
            end = min(date.fromisoformat(c["EndDate"]), ends.get(ln["Id"], date.max))
            windows.setdefault((account[c["AccountId"]]["Customer_Key__c"], ln["Meter__c"]), []).append(
                (date.fromisoformat(c["StartDate"]), end))
    currency = {a["Customer_Key__c"]: a["CurrencyIsoCode"] for a in sf["Account"]}
    active_users_props = 0
    for src, folder, ts, ev in good:
        day = ts.date()
        assert START <= day < START + timedelta(SMALL["days"])
        assert any(lo <= day <= hi for lo, hi in windows[(ev["customer_id"], ev["meter"])]), ev
        if ev["meter"] == "payments_volume":
            amount = Decimal(ev["amount"])
            assert amount > 0
            if currency[ev["customer_id"]] == "JPY":
                assert "." not in ev["amount"]
            else:
                assert _places(amount) == 2
        else:
            assert ev["amount"] is None
        if ev["meter"] == "active_users":
            assert ev["properties"]["user_id"]
            active_users_props += 1
    assert active_users_props > 0
    # realistic skew: the busiest customer sends far more than the quietest
    per_customer = Counter(ev["customer_id"] for *_, ev in good)
    assert max(per_customer.values()) > 5 * min(per_customer.values())


def test_late_arrivals_land_after_their_month(classified, events, manifest):
    _, good = classified
    late = [(src, folder, ts) for src, folder, ts, _ in good
            if _month_end(ts.date()) < folder - timedelta(manifest["usage_sources"][src]["delivery_lag_days"])]
    assert late
    for src, folder, ts in late:
        assert folder > _month_end(ts.date())
