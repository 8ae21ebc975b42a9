"""Customers, contracts, contract lines, price tiers and amendments of the demo world.

This is the neutral model; salesforce_seed.py and netsuite_seed.py render it into each system's
records and events.py meters usage against it. The first contracts follow FORCED specs so that
even a small data set holds every line kind, charge model, billing frequency, anchor and
amendment type; the rest are drawn at random.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from . import catalog
from .util import add_months, date_with_day, days_between, q, random_date, trim


@dataclass
class Customer:
    key: str
    name: str
    currency: str
    subsidiary: str
    region: str
    weight: float  # relative usage volume (Pareto-skewed)


@dataclass
class Tier:
    up_to: Decimal | None
    unit_price: Decimal | None = None
    flat_fee: Decimal | None = None
    rate: Decimal | None = None


@dataclass
class Line:
    key: str
    number: int
    kind: str
    product: str
    meter: str | None = None
    amount: Decimal | None = None
    timing: str | None = None
    revenue_rule: str | None = None
    price_model: str | None = None
    unit_price: Decimal | None = None
    package_size: int | None = None
    package_price: Decimal | None = None
    free_units: int | None = None
    rate: Decimal | None = None
    fixed_fee: Decimal | None = None
    free_events: int | None = None
    free_amount: Decimal | None = None
    min_per_event: Decimal | None = None
    max_per_event: Decimal | None = None
    included_quantity: int | None = None
    applies_to: list[str] | None = None
    purchase_date: date | None = None
    expiry_date: date | None = None
    breakage: str | None = None
    expected_breakage_rate: Decimal | None = None
    charge_date: date | None = None
    tiers: list[Tier] = field(default_factory=list)
    last_day: date | None = None  # set by an Activated cancellation (the day before it)


@dataclass
class Amendment:
    key: str
    line_key: str
    type: str
    effective_date: date
    status: str
    cancel: bool = False
    new_amount: Decimal | None = None
    new_included_quantity: int | None = None
    new_unit_price: Decimal | None = None
    new_price_model: str | None = None
    tiers: list[Tier] = field(default_factory=list)


@dataclass
class Contract:
    key: str
    customer: Customer
    status: str
    start: date
    end: date
    frequency: str
    anchor: str
    lines: list[Line] = field(default_factory=list)
    amendments: list[Amendment] = field(default_factory=list)

    def line(self, suffix: str) -> Line:
        return next(ln for ln in self.lines if ln.key == f"{self.key}-{suffix}")


MONTHS = {"monthly": 1, "quarterly": 3, "annual": 12}

# Coverage plan for the first customers' first contracts. start = (window, day of month or None).
FORCED: list[dict] = [
    # monthly anniversary from a 31st (Feb clamping), graduated API with allowance, upgrade
    dict(frequency="monthly", anchor="start", start=("before", 31), recurring=["in_advance"],
         usage={"api_calls": "graduated", "compute_hours": "unit"}, included={"api_calls"},
         one_time="point_in_time", amendments=[("platform", "upgrade", "Activated")]),
    # calendar monthly, percentage payments, fee in arrears, minimum on explicit lines
    dict(frequency="monthly", anchor="calendar", start=("before", None), recurring=["in_arrears"],
         usage={"payments_volume": "percentage", "messages": "unit"}, minimum="explicit",
         amendments=[("messages", "cancellation", "Activated")]),
    # quarterly calendar, graduated percentage, package, credits expiring inside the range
    dict(frequency="quarterly", anchor="calendar", start=("long", None), recurring=["in_advance"],
         usage={"payments_volume": "graduated_percentage", "api_calls": "package"},
         prepaid=("at_expiry", "expiring"),
         amendments=[("payments", "price_change", "Activated")]),
    # annual anniversary from a 30th, volume seats, proportional breakage, ratable one-time
    dict(frequency="annual", anchor="start", start=("before", 30), recurring=["in_advance"],
         usage={"seats": "volume", "active_users": "unit"}, included={"active_users"},
         prepaid=("proportional", "start"), one_time="ratable_daily",
         amendments=[("users", "price_change", "Pending")]),
    # quarterly anniversary from a 29th, minimum on the default lines, downgrade + new tiers
    dict(frequency="quarterly", anchor="start", start=("before", 29), recurring=["in_advance"],
         usage={"storage_gb": "volume", "compute_hours": "graduated"}, minimum="default",
         amendments=[("platform", "downgrade", "Activated"), ("compute", "price_change", "Activated")]),
    # new in the range on a 30th, both fee timings, volume API, pending cancellation
    dict(frequency="monthly", anchor="start", start=("inside", 30),
         recurring=["in_advance", "in_arrears"], usage={"api_calls": "volume", "messages": "package"},
         one_time="point_in_time", amendments=[("support", "cancellation", "Pending")]),
]

_PREFIX = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay",
           "Soylent", "Tyrell", "Cyberdyne", "Aperture", "Wonka", "Oscorp", "Nimbus", "Polar",
           "Quantum", "Northwind", "Contoso", "Fabrikam", "Litware", "Adatum", "Proseware",
           "Woodgrove", "Tailspin", "Bluefin", "Redwood", "Silverline", "Goldcrest", "Ironbark"]
_NOUN = ["Analytics", "Logistics", "Robotics", "Health", "Payments", "Media", "Labs", "Systems",
         "Foods", "Energy", "Cloud", "Networks", "Studios", "Mobility", "Retail", "Games",
         "Biotech", "Finance", "Security", "Travel"]
_LEGAL = {"USD": ["Inc.", "LLC", "Corp."], "EUR": ["GmbH", "B.V.", "SAS", "S.p.A.", "Ltd"],
          "JPY": ["K.K.", "Co., Ltd."]}
_REGIONS = {"USD": ["us-east-1", "us-west-2"], "EUR": ["eu-west-1", "eu-central-1"],
            "JPY": ["ap-northeast-1"]}


class Pricer:
    """Converts USD list prices into a contract's currency with the right precision."""

    def __init__(self, currency: str):
        self.currency = currency
        self.factor = catalog.PRICE_FACTOR[currency]
        self.minor = catalog.CURRENCIES[currency][1]

    def round_money(self, value: Decimal) -> Decimal:
        return q(value, self.minor)

    def money(self, usd) -> Decimal:
        return self.round_money(Decimal(usd) * self.factor)

    def unit(self, usd: Decimal) -> Decimal:
        # unit prices keep up to 6 decimals, without trailing zeros
        return trim(q(usd * self.factor, 6))

    def bound(self, usd_bound: int | None) -> int | None:
        # money tier bounds (graduated_percentage) are whole units of the currency
        return None if usd_bound is None else int(q(Decimal(usd_bound) * self.factor, 0))


def build_customers(rng: random.Random, n: int) -> list[Customer]:
    n_jpy = max(1, round(n * 0.12)) if n >= 3 else 0
    n_eur = max(1, round(n * 0.30)) if n >= 2 else 0
    currencies = (["USD"] * (n - n_jpy - n_eur) + ["EUR"] * n_eur + ["JPY"] * n_jpy)
    rng.shuffle(currencies)
    used: set[str] = set()
    customers = []
    for i, cur in enumerate(currencies, start=1):
        key = f"C{i:04d}"
        for _ in range(20):
            name = f"{rng.choice(_PREFIX)} {rng.choice(_NOUN)} {rng.choice(_LEGAL[cur])}"
            if name not in used:
                break
        else:
            name = f"{rng.choice(_PREFIX)} {rng.choice(_NOUN)} {key}"
        used.add(name)
        customers.append(Customer(
            key=key, name=name, currency=cur, subsidiary="US" if cur == "USD" else "EU",
            region=rng.choice(_REGIONS[cur]), weight=min(rng.paretovariate(1.2), 50.0)))
    return customers


def _random_spec(rng: random.Random, start_kind: str, exclude: set[str]) -> dict | None:
    meters = [m for m in catalog.METERS if m not in exclude]
    if not meters:
        return None
    frequency = rng.choices(["monthly", "quarterly", "annual"], [6, 2, 2])[0]
    anchor = rng.choice(["start", "start", "calendar"])
    day = rng.choice([29, 30, 31]) if anchor == "start" and rng.random() < 0.2 else None
    k = min(len(meters), rng.choices([1, 2, 3], [4, 4, 2])[0])
    chosen = rng.sample(meters, k)
    recurring = rng.choices([[], ["in_advance"], ["in_arrears"], ["in_advance", "in_arrears"]],
                            [1, 7, 1.5, 1])[0]
    return dict(
        frequency=frequency, anchor=anchor, start=(start_kind, day), recurring=recurring,
        usage={m: rng.choice(catalog.MODELS[m]) for m in chosen},
        included={m for m in chosen if m != "payments_volume" and rng.random() < 0.3},
        minimum=rng.choice(["explicit", "default"]) if rng.random() < 0.2 else None,
        prepaid=(rng.choice(["at_expiry", "proportional"]), rng.choice(["start", "expiring", "top_up"]))
        if rng.random() < 0.15 else None,
        one_time=rng.choice(["point_in_time", "point_in_time", "ratable_daily"])
        if rng.random() < 0.3 else None,
        amendments=None,  # drawn at random
    )


class _Builder:
    def __init__(self, rng: random.Random, range_start: date, range_end: date):
        self.rng = rng
        self.r0 = range_start
        self.last = range_end - timedelta(1)  # last day of the demo range
        self.days = (range_end - range_start).days
        self.count = 0

    # --- dates ---
    def _start(self, kind: str, day: int | None, prev: Contract | None) -> tuple[date, int]:
        r0, rng = self.r0, self.rng
        windows = {
            "before": (r0 - timedelta(330), r0 - timedelta(20)),
            "long": (r0 - timedelta(420), r0 - timedelta(370)),
            "inside": (r0 + timedelta(1), r0 + timedelta(max(1, self.days * 3 // 4))),
            "ending": (r0 - timedelta(360), r0 - timedelta(365 - max(6, self.days - 10))),
            "addon": (r0 - timedelta(150), r0 + timedelta(max(1, self.days // 2))),
        }
        if kind in ("renewal", "draft"):
            return prev.end + timedelta(1), 12
        lo, hi = windows[kind]
        start = date_with_day(rng, lo, hi, day) if day else random_date(rng, lo, hi)
        term = 24 if kind == "long" else 12
        if kind == "before" and add_months(start, 12) - timedelta(1) < self.last + timedelta(15):
            term = 24  # keep "ongoing" contracts running through the range
        return start, term

    # --- lines ---
    def build(self, customer: Customer, spec: dict, prev: Contract | None) -> Contract:
        rng, p = self.rng, Pricer(customer.currency)
        self.count += 1
        start, term = self._start(spec["start"][0], spec["start"][1], prev)
        c = Contract(key=f"K{self.count:04d}", customer=customer,
                     status="Draft" if spec["start"][0] == "draft" else "Activated",
                     start=start, end=add_months(start, term) - timedelta(1),
                     frequency=spec["frequency"], anchor=spec["anchor"])
        months = MONTHS[c.frequency]
        period_discount = Decimal("0.9") if months == 12 else Decimal(1)

        def add(suffix: str, **kw) -> Line:
            ln = Line(key=f"{c.key}-{suffix}", number=len(c.lines) + 1, **kw)
            c.lines.append(ln)
            return ln

        for timing in spec["recurring"]:
            monthly = rng.choice([499, 999, 1500, 2500, 4000] if timing == "in_advance" else [200, 400, 800])
            add("platform" if timing == "in_advance" else "support", kind="recurring_fee",
                product="platform_fee" if timing == "in_advance" else "premium_support",
                amount=p.money(Decimal(monthly) * months * period_discount),
                timing=timing, revenue_rule="ratable_daily")
        for meter, model in spec["usage"].items():
            ln = add(catalog.LINE_SUFFIX[meter], kind="usage", product=meter, meter=meter,
                     revenue_rule="as_consumed", price_model=model)
            self._price(ln, p)
            if meter in spec.get("included", ()):
                ln.included_quantity = catalog.INCLUDED[meter] * months
        usage_keys = [ln.key for ln in c.lines if ln.kind == "usage"]
        if spec.get("minimum"):
            targets = [ln.key for ln in c.lines if ln.kind in ("recurring_fee", "usage")]
            add("min", kind="minimum_commitment", product="minimum_commitment",
                amount=p.money(rng.choice([1000, 2000, 3000]) * months),
                applies_to=None if spec["minimum"] == "default"
                else sorted(rng.sample(targets, max(1, len(targets) - 1))))
        if spec.get("prepaid"):
            breakage, variant = spec["prepaid"]
            purchase, expiry = self._credit_dates(c, variant)
            add("credits", kind="prepaid_credit", product="prepaid_credits",
                amount=p.money(rng.choice([5000, 10000, 20000])), applies_to=usage_keys,
                purchase_date=purchase, expiry_date=expiry, breakage=breakage,
                expected_breakage_rate=rng.choice([Decimal("0.10"), Decimal("0.15")])
                if breakage == "proportional" else None)
        if spec.get("one_time"):
            add("setup", kind="one_time", product="onboarding_fee",
                amount=p.money(rng.choice([1500, 2500, 5000])),
                revenue_rule=spec["one_time"], charge_date=c.start)
        if c.status == "Activated":
            self._amend(c, spec.get("amendments"), p)
        return c

    def _price(self, ln: Line, p: Pricer) -> None:
        rng, m, model = self.rng, ln.meter, ln.price_model
        disc = rng.choice([Decimal(1), Decimal("0.95"), Decimal("0.9"), Decimal("0.85"), Decimal("1.1")])
        if model == "unit":
            ln.unit_price = p.unit(catalog.UNIT_PRICE[m] * disc)
        elif model in ("graduated", "volume"):
            ln.tiers = [Tier(Decimal(up) if up is not None else None, p.unit(price * disc),
                             p.money(flat) if i == 0 else None)
                        for i, (up, price, flat) in enumerate(catalog.TIERS[m])]
        elif model == "package":
            size, price = catalog.PACKAGE[m]
            ln.package_size, ln.package_price = size, p.money(price * disc)
            ln.free_units = size if rng.random() < 0.4 else 0
        elif model == "percentage":
            ln.rate = trim(q(catalog.PERCENT_RATE * disc, 2))
            ln.fixed_fee = p.money(Decimal("0.30")) if rng.random() < 0.7 else None
            if rng.random() < 0.4:
                ln.free_events, ln.free_amount = 100, p.money(1000)
            if rng.random() < 0.5:
                ln.min_per_event, ln.max_per_event = p.money(Decimal("0.50")), p.money(25)
        else:  # graduated_percentage
            ln.tiers = [Tier(Decimal(p.bound(up)) if up is not None else None,
                             flat_fee=p.money(flat) if i == 0 else None, rate=trim(q(rate * disc, 2)))
                        for i, (up, rate, flat) in enumerate(catalog.PERCENT_TIERS)]

    def _credit_dates(self, c: Contract, variant: str) -> tuple[date, date]:
        rng = self.rng
        if variant == "expiring":
            # bought a year before the range so it expires (and breaks) inside it
            purchase = self.r0 - timedelta(365 - rng.randint(3, max(3, self.days - 12)))
            expiry = add_months(purchase, 12) - timedelta(1)
            if c.start <= purchase and expiry <= c.end:
                return purchase, expiry
        if variant == "top_up":
            lo, hi = max(c.start, self.r0), min(c.end, self.last)
            if lo <= hi:
                purchase = random_date(rng, lo, hi)
                return purchase, min(add_months(purchase, 12) - timedelta(1), c.end)
        return c.start, c.end

    # --- amendments ---
    @staticmethod
    def _types(ln: Line) -> list[str]:
        if ln.kind == "recurring_fee":
            return ["upgrade", "downgrade", "cancellation"]
        if ln.kind == "minimum_commitment":
            return ["upgrade", "downgrade"]
        if ln.kind != "usage":
            return []
        types = ["cancellation"]
        if ln.price_model in ("unit", "graduated", "volume", "graduated_percentage"):
            types.append("price_change")
        if ln.price_model not in ("percentage", "graduated_percentage"):
            types.append("upgrade")
            if ln.included_quantity:
                types.append("downgrade")
        return types

    def _effective(self, c: Contract) -> date | None:
        """Mid-period inside the range when possible (days 6..24 avoid period boundaries)."""
        lo = max(self.r0 + timedelta(3), c.start + timedelta(1))
        hi = min(self.last - timedelta(3), c.end)
        if lo > hi:
            lo, hi = c.start + timedelta(1), c.end
        days = days_between(lo, hi)
        if not days:
            return None
        mid = [d for d in days if 6 <= d.day <= 24]
        return self.rng.choice(mid or days)

    def _amend(self, c: Contract, planned: list | None, p: Pricer) -> None:
        rng = self.rng
        if planned is None:
            n = rng.choices([0, 1, 2], [65, 30, 5])[0]
            lines = [ln for ln in c.lines if self._types(ln)]
            planned = [(ln.key[len(c.key) + 1:], rng.choice(self._types(ln)),
                        "Pending" if rng.random() < 0.15 else "Activated")
                       for ln in rng.sample(lines, min(n, len(lines)))]
        for suffix, typ, status in planned:
            ln, eff = c.line(suffix), self._effective(c)
            if eff is None:
                continue
            a = Amendment(key=f"{c.key}-A{len(c.amendments) + 1}", line_key=ln.key, type=typ,
                          effective_date=eff, status=status)
            if typ == "cancellation":
                a.cancel = True
                if status == "Activated":
                    ln.last_day = eff - timedelta(1)
            elif typ in ("upgrade", "downgrade") and ln.kind != "usage":
                a.new_amount = p.round_money(ln.amount * Decimal("1.25" if typ == "upgrade" else "0.8"))
            elif typ in ("upgrade", "downgrade"):
                base = ln.included_quantity or catalog.INCLUDED[ln.meter] * MONTHS[c.frequency]
                a.new_included_quantity = base * 2 if typ == "upgrade" else base // 2
            else:  # price_change: same model, new prices
                a.new_price_model = ln.price_model
                f = Decimal("0.9")
                if ln.price_model == "unit":
                    a.new_unit_price = trim(q(ln.unit_price * f, 6))
                else:
                    a.tiers = [Tier(t.up_to,
                                    trim(q(t.unit_price * f, 6)) if t.unit_price is not None else None,
                                    t.flat_fee, trim(q(t.rate * f, 4)) if t.rate is not None else None)
                               for t in ln.tiers]
            c.amendments.append(a)


def build_contracts(rng: random.Random, customers: list[Customer], range_start: date,
                    range_end: date) -> list[Contract]:
    """1-2 contracts a customer. A second contract is a renewal (no overlap in time), an add-on
    (overlapping, so its meters are disjoint from the first one's: an event must map to exactly
    one usage line) or a Draft renewal that has not been activated yet."""
    b = _Builder(rng, range_start, range_end)
    contracts: list[Contract] = []
    for i, cust in enumerate(customers):
        if i < len(FORCED):
            spec = FORCED[i]
        else:
            kind = rng.choices(["before", "inside", "ending"], [60, 25, 15])[0]
            spec = _random_spec(rng, kind, set())
        first = b.build(cust, spec, None)
        contracts.append(first)
        roll = rng.random()
        second = None
        if spec["start"][0] == "ending" and roll < 0.7:
            second = _random_spec(rng, "renewal", set())
        elif roll < 0.2:
            second = _random_spec(rng, "addon", {ln.meter for ln in first.lines if ln.meter})
        elif roll < 0.25 and first.end >= range_end:
            second = _random_spec(rng, "draft", set())
        if second:
            contracts.append(b.build(cust, second, first))
    return contracts


def active_window(c: Contract, ln: Line) -> tuple[date, date] | None:
    """Days a usage line can meter: Activated contracts only, up to an Activated cancellation."""
    if c.status != "Activated":
        return None
    last = min(c.end, ln.last_day) if ln.last_day else c.end
    return (c.start, last) if c.start <= last else None
