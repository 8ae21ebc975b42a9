"""NetSuite seed: the records of object-model.md "NetSuite", with explicit internal ids.

Internal ids are digit strings from a fixed base per record type, so ids never collide across
types (a subscription id used as a line id is caught at once) and the Salesforce seed can point
at them. Only Activated contracts have a subscription: a Draft contract is not sold yet.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from . import catalog
from .contracts import Contract, Line
from .util import days_between, month_end, q, trim

ID_BASE = {
    "subsidiary": 1, "currency": 1, "currencyrate": 1, "account": 101, "accountingperiod": 1,
    "item": 201, "customer": 100001, "priceplan": 300001, "subscription": 400001,
    "subscriptionline": 500001,
}
FREQUENCY = {"monthly": "MONTHLY", "quarterly": "QUARTERLY", "annual": "ANNUALLY"}
LINE_TYPE = {"usage": "Usage", "recurring_fee": "Recurring", "minimum_commitment": "Recurring",
             "one_time": "One Time", "prepaid_credit": "One Time"}


def ref(record_id: str) -> dict:
    return {"id": record_id}


class _Ids:
    def __init__(self):
        self.next = dict(ID_BASE)

    def new(self, rtype: str) -> str:
        n = self.next[rtype]
        self.next[rtype] = n + 1
        return str(n)


def _rates(rng: random.Random, first: date, last: date, cur_ids: dict) -> list[dict]:
    """Daily rates as a bounded random walk. exchangeRate = units of baseCurrency for one unit
    of transactionCurrency; strings so no binary float ever touches them."""
    eurusd, jpyusd = 1.085, 0.00670
    rows = []
    for d in days_between(first, last):
        eurusd = min(1.25, max(0.95, eurusd * (1 + rng.gauss(0, 0.003))))
        jpyusd = min(0.0080, max(0.0058, jpyusd * (1 + rng.gauss(0, 0.004))))
        e = Decimal(f"{eurusd:.6f}")
        j = Decimal(f"{jpyusd:.8f}")
        for base, txn, rate in (("USD", "EUR", e), ("USD", "JPY", j),
                                ("EUR", "USD", q(1 / e, 6)), ("EUR", "JPY", q(j / e, 8))):
            rows.append({"baseCurrency": ref(cur_ids[base]), "transactionCurrency": ref(cur_ids[txn]),
                         "exchangeRate": format(rate, "f"), "effectiveDate": d.isoformat()})
    return rows


def _tiers(ln: Line) -> tuple[str, list[dict], dict]:
    """(priceModelType, priceTiers, extra fields) for a line, as close as NetSuite can say it."""
    def tier(lo, hi, price, flat=None):
        return {"fromVal": lo, "toVal": hi, "price": price, "flatFee": flat or Decimal(0)}

    model = ln.price_model
    if ln.kind != "usage":
        return "flat", [tier(0, None, ln.amount)], {}
    if model == "unit":
        return "unit", [tier(0, None, ln.unit_price)], {}
    if model == "percentage":  # priced per unit of `amount`: rate % as a fraction
        return "unit", [tier(0, None, trim(ln.rate / 100))], {}
    if model == "package":
        tiers = [tier(0, None, ln.package_price)]
        if ln.free_units:
            tiers = [tier(0, ln.free_units, Decimal(0)), tier(ln.free_units, None, ln.package_price)]
        return "package", tiers, {"packageSize": ln.package_size}
    out, lo = [], Decimal(0)
    for t in ln.tiers:
        price = t.unit_price if model != "graduated_percentage" else trim(t.rate / 100)
        out.append(tier(lo, t.up_to, price, t.flat_fee))
        lo = t.up_to
    return ("volume" if model == "volume" else "graduated"), out, {}


def build(rng: random.Random, customers, contracts: list[Contract], range_start: date,
          range_end: date) -> tuple[dict, dict]:
    """Returns (seed, ids) where ids maps customer/contract/line keys to internal ids."""
    ids = _Ids()
    last = range_end - timedelta(1)
    stamp = f"{(range_start - timedelta(1)).isoformat()}T20:00:00Z"
    seed: dict[str, list] = {k: [] for k in (
        "subsidiary", "currency", "currencyrate", "account", "accountingperiod", "item", "customer",
        "priceplan", "subscription", "subscriptionline", "usage", "invoice", "journalentry")}
    out = {"customer": {}, "subscription": {}, "subscriptionline": {}}

    def rec(rtype: str, **fields) -> str:
        rid = ids.new(rtype)
        seed[rtype].append({"id": rid, "lastModifiedDate": stamp, **fields})
        return rid

    cur = {c: rec("currency", symbol=c, name=n, currencyPrecision=p)
           for c, (n, p) in catalog.CURRENCIES.items()}
    sub = {code: rec("subsidiary", externalId=code, name=n, currency=ref(cur[base]), country=country)
           for code, (n, base, country) in catalog.SUBSIDIARIES.items()}
    active = [c for c in contracts if c.status == "Activated"]
    first = min([c.start for c in active] + [range_start]).replace(day=1)
    for row in _rates(rng, first, last, cur):
        rec("currencyrate", **row)
    for role, number, name, atype in catalog.ACCOUNTS:
        rec("account", externalId=role, acctNumber=number, acctName=name, acctType=atype)

    # Monthly periods of every year the range touches. Closed: periods ending before
    # range_start + 31 days (with Aug 1: through Aug), so late usage must post to an open period.
    close_before = range_start + timedelta(31)
    for year in range(range_start.year, last.year + 1):
        for month in range(1, 13):
            d = date(year, month, 1)
            rec("accountingperiod", periodName=d.strftime("%b %Y"), startDate=d.isoformat(),
                endDate=month_end(d).isoformat(), closed=month_end(d) < close_before,
                **dict.fromkeys(("allLocked", "arLocked", "apLocked"), month_end(d) < close_before),
                isQuarter=False, isYear=False)

    item = {}
    for m in catalog.METERS:
        item[m] = rec("item", itemId=f"USAGE-{m.upper().replace('_', '-')}",
                      displayName=catalog.METER_NAMES[m], itemType="Service", externalId=m)
    for code, name in catalog.PRODUCTS.items():
        item[code] = rec("item", itemId=code.upper().replace("_", "-"), displayName=name,
                         itemType="Service", externalId=code)

    for cu in customers:
        out["customer"][cu.key] = rec(
            "customer", entityId=f"{cu.key} {cu.name}", companyName=cu.name, externalId=cu.key,
            subsidiary=ref(sub[cu.subsidiary]), currency=ref(cur[cu.currency]))

    # Status is the state at the end of the demo range: ended by then = TERMINATED.
    add_subscriptions(seed, rec, ids.new, active, cur, sub, item, out, stamp, status_date=last)
    return seed, out


def add_subscriptions(seed: dict, rec, new_id, contracts: list[Contract], cur: dict, sub: dict, item: dict,
                      out: dict, stamp: str, status_date: date) -> None:
    """A subscription per contract, a price plan and a subscription line per contract line;
    ``out`` receives the internal IDs by key. A record that ended before ``status_date`` is
    TERMINATED. Shared by the demo generator and `meterledger simulate`."""
    for c in contracts:
        cu = c.customer
        sub_id = new_id("subscription")
        line_refs = []
        for ln in c.lines:
            model, tiers, extra = _tiers(ln)
            plan = rec("priceplan", externalId=f"PP-{ln.key}", currency=ref(cur[cu.currency]),
                       priceModelType=model, priceTiers={"items": tiers}, **extra)
            start, end = c.start, ln.last_day or c.end
            if ln.kind == "one_time":
                start = ln.charge_date
            elif ln.kind == "prepaid_credit":
                start, end = ln.purchase_date, ln.expiry_date
            line_id = rec("subscriptionline", externalId=ln.key, subscription=ref(sub_id),
                          item=ref(item[ln.meter or ln.product]), lineNumber=ln.number,
                          subscriptionLineType=LINE_TYPE[ln.kind], startDate=start.isoformat(),
                          endDate=end.isoformat(),
                          status="TERMINATED" if end < status_date else "ACTIVE", pricePlan=ref(plan))
            out["subscriptionline"][ln.key] = line_id
            line_refs.append(ref(line_id))
        seed["subscription"].append({
            "id": sub_id, "lastModifiedDate": stamp, "externalId": c.key,
            "customer": ref(out["customer"][cu.key]), "subsidiary": ref(sub[cu.subsidiary]),
            "currency": ref(cur[cu.currency]), "startDate": c.start.isoformat(),
            "endDate": c.end.isoformat(), "billingFrequency": FREQUENCY[c.frequency],
            "status": "TERMINATED" if c.end < status_date else "ACTIVE",
            "subscriptionLine": {"items": line_refs}})
        out["subscription"][c.key] = sub_id
