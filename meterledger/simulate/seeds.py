"""A scenario as the source systems would hold it: the emulators' seed files and usage event files.

Written under one folder, in the layout ``meterledger demo-data`` uses (docs/object-model.md):
- ``salesforce/seed.json``: rendered by the demo generator's own Salesforce renderer
  (``emulators.demo_data.salesforce_seed``) from the scenario, so the records have exactly the
  demo's shape: Account, Contract (Activated), Contract_Line__c, Price_Tier__c (a line's tiers,
  and an amendment's tiers pointing at its Amendment__c), Amendment__c;
- ``netsuite/seed.json``: subsidiaries, currencies, the chart of accounts, accounting periods,
  items (one per meter and product), customers, price plans, one subscription per contract and
  one subscription line per contract line (externalId = the scenario's ids);
- ``usage/scenario/<delivered_on>/events-1.jsonl``: the events delivered that day, in scenario
  order, and ``usage/scenario/_watermark.json`` (complete through usage_complete_through + 1 day,
  00:00 UTC).
"""
from __future__ import annotations

import json
import random
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from emulators.demo_data import catalog, salesforce_seed
from emulators.demo_data.contracts import Amendment as DemoAmendment
from emulators.demo_data.contracts import Contract as DemoContract
from emulators.demo_data.contracts import Customer as DemoCustomer
from emulators.demo_data.contracts import Line as DemoLine
from emulators.demo_data.contracts import Tier as DemoTier
from emulators.demo_data.netsuite_seed import ID_BASE, add_subscriptions, ref
from emulators.demo_data.util import dumps_seed, month_end
from meterledger.simulate.scenario import Amendment, Line, Price, Scenario, currencies

USAGE_SOURCE = "scenario"
# Product codes (Contract_Line__c.Product__c, NetSuite item externalId) of the non-usage lines.
PRODUCT_OF_KIND = {"minimum_commitment": "minimum_commitment", "prepaid_credit": "prepaid_credits",
                   "one_time": "onboarding_fee"}


def write_seeds(scenario: Scenario, folder: Path) -> None:
    """Write the Salesforce and NetSuite seeds and the usage files of ``scenario`` under ``folder``."""
    folder = Path(folder)
    customers, contracts = _demo_model(scenario)
    netsuite, ns_ids = netsuite_records(scenario, contracts)
    salesforce = salesforce_seed.build(random.Random(f"meterledger-simulate:{scenario.scenario}"), customers,
                                       contracts, ns_ids, first_day(scenario))
    for system, data in (("salesforce", salesforce), ("netsuite", netsuite)):
        (folder / system).mkdir(parents=True, exist_ok=True)
        (folder / system / "seed.json").write_text(dumps_seed(data), encoding="utf-8")
    write_usage_files(scenario, folder / "usage")


def first_day(scenario: Scenario) -> date:
    """The earliest day the scenario talks about: the seeds' records are all older."""
    days = [c.start_date for c in scenario.contracts]
    days += [ln.purchase_date for c in scenario.contracts for ln in c.lines if ln.purchase_date]
    days += [ln.date for c in scenario.contracts for ln in c.lines if ln.date]
    days += [e.event_date for e in scenario.events]
    return min(days + [scenario.as_of])


# --- the demo generator's neutral model --------------------------------------------------------

def _product(line: Line) -> str:
    if line.kind == "usage":
        return line.meter
    if line.kind == "recurring_fee":
        return "platform_fee" if line.fee_timing == "in_advance" else "premium_support"
    return PRODUCT_OF_KIND[line.kind]


def _tier_list(price: Price | None) -> list[DemoTier]:
    if price is None or not price.tiers:
        return []
    return [DemoTier(up_to=t.up_to, unit_price=t.unit_price, flat_fee=t.flat_fee, rate=t.rate) for t in price.tiers]


def _demo_line(scenario: Scenario, contract, line: Line, number: int) -> DemoLine:
    price = line.price
    cancelled = scenario.cancelled_from(line.id)
    applies = scenario.applies_to(contract, line) if line.kind in ("minimum_commitment", "prepaid_credit") else None
    return DemoLine(
        key=line.id, number=number, kind=line.kind, product=_product(line), meter=line.meter,
        amount=line.amount, timing=line.fee_timing, revenue_rule=line.revenue,
        price_model=price.model if price else None,
        unit_price=price.unit_price if price else None,
        package_size=price.package_size if price else None,
        package_price=price.package_price if price else None,
        free_units=price.free_units if price else None,
        rate=price.rate if price else None,
        fixed_fee=price.fixed_fee if price else None,
        free_events=price.free_events if price else None,
        free_amount=price.free_amount if price else None,
        min_per_event=price.min_per_event if price else None,
        max_per_event=price.max_per_event if price else None,
        included_quantity=line.included_quantity,
        applies_to=applies,
        purchase_date=line.purchase_date, expiry_date=line.expiry_date,
        breakage=line.breakage_method, expected_breakage_rate=line.expected_breakage_rate,
        charge_date=line.date, tiers=_tier_list(price),
        last_day=cancelled - timedelta(days=1) if cancelled else None,
    )


def _amendment_type(amendment: Amendment, line: Line) -> str:
    if amendment.cancel:
        return "cancellation"
    if amendment.new_price is not None:
        return "price_change"
    before = line.amount if amendment.new_amount is not None else line.included_quantity
    after = amendment.new_amount if amendment.new_amount is not None else amendment.new_included_quantity
    return "downgrade" if before is not None and after < before else "upgrade"


def _demo_amendment(amendment: Amendment, line: Line) -> DemoAmendment:
    price = amendment.new_price
    return DemoAmendment(
        key=amendment.key, line_key=amendment.line, type=_amendment_type(amendment, line),
        effective_date=amendment.effective_date, status="Activated" if amendment.is_activated else "Pending",
        cancel=amendment.cancel, new_amount=amendment.new_amount,
        new_included_quantity=amendment.new_included_quantity,
        new_unit_price=price.unit_price if price else None,
        new_price_model=price.model if price else None,
        tiers=_tier_list(price),
    )


def _demo_model(scenario: Scenario) -> tuple[list[DemoCustomer], list[DemoContract]]:
    customers = {c.id: DemoCustomer(key=c.id, name=c.display_name, currency=c.currency,
                                    subsidiary=c.subsidiary_code, region="", weight=1.0)
                 for c in scenario.customers}
    contracts = []
    for contract in scenario.contracts:
        demo = DemoContract(key=contract.id, customer=customers[contract.customer], status="Activated",
                            start=contract.start_date, end=contract.end_date,
                            frequency=contract.billing_frequency, anchor=contract.billing_anchor)
        demo.lines = [_demo_line(scenario, contract, line, number)
                      for number, line in enumerate(contract.lines, start=1)]
        lines = {line.id: line for line in contract.lines}
        demo.amendments = [_demo_amendment(a, lines[a.line]) for a in scenario.amendments_of(contract.id)]
        contracts.append(demo)
    return list(customers.values()), contracts


# --- NetSuite ---------------------------------------------------------------------------------

def _months(first: date, last: date) -> list[date]:
    out, day = [], first.replace(day=1)
    while day <= last:
        out.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return out


def netsuite_records(scenario: Scenario, contracts: list[DemoContract]) -> tuple[dict, dict]:
    """The NetSuite seed in the demo generator's shapes, and the internal ids the Salesforce
    records point at ({"customer" | "subscription" | "subscriptionline": {key: id}})."""
    next_id = dict(ID_BASE)
    stamp = f"{(first_day(scenario) - timedelta(days=1)).isoformat()}T20:00:00Z"
    seed: dict[str, list] = {k: [] for k in (
        "subsidiary", "currency", "currencyrate", "account", "accountingperiod", "item", "customer",
        "priceplan", "subscription", "subscriptionline", "usage", "invoice", "journalentry")}
    ids: dict[str, dict[str, str]] = {"customer": {}, "subscription": {}, "subscriptionline": {}}

    def new_id(rtype: str) -> str:
        next_id[rtype] += 1
        return str(next_id[rtype] - 1)

    def rec(rtype: str, **fields) -> str:
        rid = new_id(rtype)
        seed[rtype].append({"id": rid, "lastModifiedDate": stamp, **fields})
        return rid

    known = currencies()
    used = sorted({c.currency for c in scenario.customers}
                  | {base for _, base, _ in catalog.SUBSIDIARIES.values()})
    cur = {code: rec("currency", symbol=code, name=known[code][0], currencyPrecision=known[code][1]) for code in used}
    sub = {code: rec("subsidiary", externalId=code, name=name, currency=ref(cur[base]), country=country)
           for code, (name, base, country) in catalog.SUBSIDIARIES.items()}
    for role, number, name, atype in catalog.ACCOUNTS:
        rec("account", externalId=role, acctNumber=number, acctName=name, acctType=atype)

    # Calendar months from the first day the scenario mentions through the last contract day (or
    # as_of); closed when they end on or before accounting.closed_through.
    last = max([c.end_date for c in scenario.contracts]
               + [ln.expiry_date for c in scenario.contracts for ln in c.lines if ln.expiry_date]
               + [scenario.as_of])
    closed_through = scenario.closed_through
    for start in _months(first_day(scenario), last):
        end = month_end(start)
        closed = closed_through is not None and end <= closed_through
        rec("accountingperiod", periodName=start.strftime("%b %Y"), startDate=start.isoformat(),
            endDate=end.isoformat(), closed=closed, allLocked=closed, arLocked=closed, apLocked=closed,
            isQuarter=False, isYear=False)

    item = {}
    for meter in scenario.meters:
        item[meter.id] = rec("item", itemId=f"USAGE-{meter.id.upper().replace('_', '-')}",
                             displayName=meter.description or meter.id, itemType="Service", externalId=meter.id)
    for code, name in catalog.PRODUCTS.items():
        item[code] = rec("item", itemId=code.upper().replace("_", "-"), displayName=name, itemType="Service",
                         externalId=code)

    for customer in scenario.customers:
        ids["customer"][customer.id] = rec(
            "customer", entityId=f"{customer.id} {customer.display_name}", companyName=customer.display_name,
            externalId=customer.id, subsidiary=ref(sub[customer.subsidiary_code]), currency=ref(cur[customer.currency]))

    # Status as of the run date: ended before it = TERMINATED.
    add_subscriptions(seed, rec, new_id, contracts, cur, sub, item, ids, stamp, status_date=scenario.as_of)
    return seed, ids


# --- usage files ------------------------------------------------------------------------------

def _json(value: Any) -> str:
    """JSON with decimals as plain numbers (never through a binary float), keys sorted."""
    if value is None or isinstance(value, (bool, int, str)):
        return json.dumps(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_json(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_json(v) for v in value) + "]"
    if isinstance(value, (date, datetime)):
        return json.dumps(value.isoformat())
    raise TypeError(f"not serialisable in an event: {type(value).__name__}")


def utc_text(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
    return f"{moment:%Y-%m-%dT%H:%M:%S}{fraction}Z"


def event_line(event) -> str:
    return _json({
        "event_id": event.id,
        "customer_id": event.customer,
        "meter": event.meter,
        "quantity": format(event.billed_quantity, "f"),
        "amount": None if event.amount is None else format(event.amount, "f"),
        "timestamp": utc_text(event.timestamp),
        "properties": event.properties or {},
        "source": USAGE_SOURCE,
    })


def write_usage_files(scenario: Scenario, root: Path) -> None:
    """One JSON Lines file per delivery day, the events in scenario order (load order = delivery
    day, then position), and the source's completeness watermark."""
    source = Path(root) / USAGE_SOURCE
    source.mkdir(parents=True, exist_ok=True)
    by_day: dict[date, list[str]] = {}
    for event in scenario.events:
        by_day.setdefault(event.delivery_date, []).append(event_line(event))
    if not by_day:
        # No usage at all: the source still delivers a (empty) file, so the raw usage tables exist
        # and say so, as they would for a metering source that had nothing to report.
        by_day[scenario.as_of] = []
    for day, lines in sorted(by_day.items()):
        folder = source / day.isoformat()
        folder.mkdir()
        (folder / "events-1.jsonl").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    through = datetime.combine(scenario.complete_through + timedelta(days=1), time(), tzinfo=timezone.utc)
    (source / "_watermark.json").write_text(
        json.dumps({"complete_through": utc_text(through), "source": USAGE_SOURCE}, sort_keys=True, indent=2) + "\n",
        encoding="utf-8")

