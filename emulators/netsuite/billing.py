"""The SuiteBilling bill run: one invoice per subscription and billing period.

For each subscription active in the period, every subscription line active in the period
becomes an invoice line:

* ``Usage`` lines: the period's usage records of the line, quantities summed, rated with the
  line's price plan;
* ``Recurring`` lines: quantity 1 at the plan's price (a ``flat`` plan's price), every period
  for a ``MONTHLY`` subscription; for ``QUARTERLY`` / ``ANNUALLY`` only in a period holding a
  bill date (the line's start plus a whole number of 3 / 12 months);
* ``One Time`` lines: quantity 1 at the plan's price, when the line starts inside the period.

Price plans (``priceTiers.items[]`` of ``{fromVal, toVal, price, flatFee}``; a tier runs from the
previous tier's ``toVal``, or 0, up to its own ``toVal``, ``null`` = unbounded):

* ``unit``: quantity x first tier's price;
* ``graduated``: each tier prices the units that fall inside it;
* ``volume``: all units at the price of the tier the total quantity falls in;
* ``package``: like ``graduated``, but the units inside a tier are sold in packages of the
  plan's ``packageSize`` (default 1), each at the tier's ``price``; a started package counts in
  full (a first tier at price 0 gives free units);
* ``flat``: the first tier's price, whatever the quantity.

A tier's ``flatFee`` is added when the tier is used. Amounts are exact decimals, rounded half-up
to the currency's precision per invoice line; the total is the sum of the lines. The invoice is
dated the last day of the period, posted to the accounting period containing that day, and has
``externalId`` ``BILL:<subscription>:<start>:<end>``: billing a period again creates nothing.
Each line keeps the subscription line and the usage records it billed (``usage``).
"""
from __future__ import annotations

import calendar
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from emulators.netsuite.records import base_period_for, currency_precision, round_money
from emulators.netsuite.store import Store

ZERO = Decimal(0)


def _tiers(plan: dict) -> list[dict]:
    return list((plan.get("priceTiers") or {}).get("items", []))


def _fee(tier: dict) -> Decimal:
    return tier.get("flatFee") or ZERO


def price(model: str, tiers: list[dict], quantity: Decimal, package_size: Decimal | None = None) -> Decimal:
    """The unrounded amount a price plan charges for a quantity."""
    if not tiers:
        return ZERO
    first = tiers[0]
    if model == "flat":
        return (first.get("price") or ZERO) + _fee(first)
    if model == "unit":
        return quantity * (first.get("price") or ZERO) + (_fee(first) if quantity else ZERO)
    if model == "volume":
        chosen = tiers[-1]
        for tier in tiers:
            if tier.get("toVal") is None or quantity <= tier["toVal"]:
                chosen = tier
                break
        return quantity * (chosen.get("price") or ZERO) + _fee(chosen)
    if model in ("graduated", "package"):
        size = package_size if package_size and package_size > 0 else Decimal(1)
        amount, lower = ZERO, ZERO
        for tier in tiers:
            upper = tier.get("toVal")
            units = max(ZERO, (quantity if upper is None else min(quantity, upper)) - lower)
            if model == "package":
                units = (units / size).to_integral_value(rounding=ROUND_CEILING)
            if units > 0:
                amount += units * (tier.get("price") or ZERO) + _fee(tier)
            if upper is None or quantity <= upper:
                break
            lower = upper
        return amount
    raise ValueError(f"unknown price model {model!r}")


def _active(record: dict, start: str, end: str, parent: dict | None = None) -> bool:
    begins = record.get("startDate") or (parent or {}).get("startDate")
    ends = record.get("endDate") or (parent or {}).get("endDate")
    return (begins is None or begins <= end) and (ends is None or ends >= start)


MONTHS = {"QUARTERLY": 3, "ANNUALLY": 12, "ANNUAL": 12, "YEARLY": 12}


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _bill_date_within(subscription: dict, line: dict, start: str, end: str) -> bool:
    step = MONTHS.get(str(subscription.get("billingFrequency") or "").upper())
    begins = line.get("startDate") or subscription.get("startDate")
    if step is None or begins is None:
        return True
    first, last = date.fromisoformat(begins), date.fromisoformat(end)
    count = 0
    while (bill_date := _add_months(first, count * step)) <= last:
        if bill_date.isoformat() >= start:
            return True
        count += 1
    return False


def _invoice_line(store: Store, subscription: dict, line: dict, usages: list[dict], start: str, end: str,
                  precision: int) -> dict | None:
    plan = store.get("priceplan", line["pricePlan"]["id"]) if line.get("pricePlan") else None
    model = (plan or {}).get("priceModelType", "unit")
    tiers = _tiers(plan or {})
    kind = line.get("subscriptionLineType", "Usage")
    usage_ids: list[dict] = []
    if kind == "Usage":
        records = [usage for usage in usages if start <= usage["usageDate"] <= end]
        if not records:
            return None
        quantity = sum((Decimal(str(usage["usageQuantity"])) for usage in records), ZERO)
        usage_ids = [{"id": usage["id"]} for usage in records]
    elif kind == "Recurring" and not _bill_date_within(subscription, line, start, end):
        return None
    elif kind == "One Time":
        begins = line.get("startDate") or subscription.get("startDate")
        if not (begins and start <= begins <= end):
            return None
        quantity = Decimal(1)
    else:
        quantity = Decimal(1)
    package_size = (plan or {}).get("packageSize")
    amount = round_money(price(model, tiers, quantity, package_size), precision)
    if model in ("unit", "flat") and tiers and tiers[0].get("price") is not None:
        rate = tiers[0]["price"]
    else:
        rate = (amount / quantity).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) if quantity else None
    invoice_line = {"item": dict(line["item"]), "subscriptionLine": {"id": line["id"]}, "quantity": quantity,
                    "amount": amount, "description": line.get("externalId") or f"Line {line.get('lineNumber')}"}
    if rate is not None:
        invoice_line["rate"] = rate
    if usage_ids:
        invoice_line["usage"] = usage_ids
    return invoice_line


def run_billing(store: Store, period_start: date, period_end: date,
                subscriptions: list[str] | None = None) -> list[str]:
    """Bill a period; the IDs of the period's invoices (made now or by an earlier run).
    ``subscriptions``: only these (internal IDs), as a bill run scheduled per subscription's own
    bill dates would; all active subscriptions when omitted."""
    if period_end < period_start:
        raise ValueError("period_end is before period_start")
    start, end = period_start.isoformat(), period_end.isoformat()
    invoice_ids: list[str] = []
    with store.lock:
        usage_by_line: dict[str, list[dict]] = {}
        for usage in store.all("usage"):
            usage_by_line.setdefault(usage["usageSubscriptionLine"]["id"], []).append(usage)
        lines_by_subscription: dict[str, list[dict]] = {}
        for line in store.all("subscriptionline"):
            lines_by_subscription.setdefault(line["subscription"]["id"], []).append(line)
        wanted = set(subscriptions) if subscriptions is not None else None
        for subscription in store.all("subscription"):
            if wanted is not None and subscription["id"] not in wanted:
                continue
            if not _active(subscription, start, end):
                continue
            external_id = f"BILL:{subscription.get('externalId') or subscription['id']}:{start}:{end}"
            existing = store.id_for_external("invoice", external_id)
            if existing is not None:
                invoice_ids.append(existing)
                continue
            customer = store.get("customer", subscription["customer"]["id"])
            currency = subscription.get("currency") or (customer or {}).get("currency")
            precision = currency_precision(store, currency)
            lines = [line for line in lines_by_subscription.get(subscription["id"], [])
                     if _active(line, start, end, subscription)]
            lines.sort(key=lambda line: line.get("lineNumber") or 0)
            items = [item for line in lines
                     if (item := _invoice_line(store, subscription, line, usage_by_line.get(line["id"], []),
                                                 start, end, precision)) is not None]
            if not items:
                continue
            invoice = {
                "externalId": external_id, "entity": dict(subscription["customer"]),
                "subscription": {"id": subscription["id"]}, "tranDate": end,
                "memo": f"SuiteBilling {start} to {end}",
                "total": sum((item["amount"] for item in items), ZERO), "item": {"items": items},
            }
            if currency:
                invoice["currency"] = dict(currency)
            period = base_period_for(store, end)
            if period is not None:
                invoice["postingPeriod"] = {"id": period["id"]}
            internal_id = store.insert("invoice", invoice)
            invoice["tranId"] = f"INV{int(internal_id):06d}" if internal_id.isdigit() else f"INV{internal_id}"
            invoice_ids.append(internal_id)
    return invoice_ids
