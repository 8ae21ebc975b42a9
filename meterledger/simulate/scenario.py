"""The scenario format (docs/scenarios.md, ../shared/scenario-format.md) as pydantic models, and
the checks that make a scenario have exactly one right answer.

``load_scenario(path)`` reads the YAML (numbers as exact decimals, see ``yaml_loader``), the
``usage_event_files`` it names, and validates everything. Any problem raises ``ScenarioError``
with one message that names the field by its path and says what is wrong, e.g.
``contracts[0].lines[1].price.tiers[2].up_to: 5 is not above the previous tier's 10``.
"""
from __future__ import annotations

import csv
import json
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError

from meterledger.simulate.yaml_loader import load_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CURRENCIES_SEED = REPO_ROOT / "dbt_project" / "seeds" / "currencies.csv"
METERS_SEED = REPO_ROOT / "dbt_project" / "seeds" / "meters.csv"
# Subsidiaries the Salesforce picklist and the NetSuite seed know (emulators/demo_data/catalog.py).
SUBSIDIARIES = ("US", "EU")
# The warehouse keeps numbers as DECIMAL(38, 9).
MAX_DECIMAL_PLACES = 9
MAX_INTEGER_DIGITS = 29

KINDS = ("recurring_fee", "usage", "minimum_commitment", "prepaid_credit", "one_time")
PRICE_MODELS = ("unit", "graduated", "volume", "package", "percentage", "graduated_percentage")
TIERED_MODELS = ("graduated", "volume", "graduated_percentage")
AMOUNT_MODELS = ("percentage", "graduated_percentage")  # priced on the events' amount
# Amendments: what the staging models carry into a new line version (int_contract_line_versions).
AMENDABLE = {
    "amount": ("recurring_fee", "minimum_commitment"),
    "included_quantity": ("usage",),
    "price": ("usage",),
}
AMENDABLE_PRICE_MODELS = ("unit", "graduated", "volume", "graduated_percentage")
CANCELLABLE_KINDS = ("recurring_fee", "usage", "minimum_commitment")

# Which line fields belong to which kind (anything else on a line of that kind is refused).
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "recurring_fee": ("amount", "timing", "revenue_rule"),
    "usage": ("meter", "included_quantity", "price", "revenue_rule"),
    "minimum_commitment": ("amount", "applies_to"),
    "prepaid_credit": ("amount", "purchase_date", "expiry_date", "applies_to", "breakage",
                       "expected_breakage_rate"),
    "one_time": ("amount", "date", "revenue_rule"),
}
KIND_REQUIRED: dict[str, tuple[str, ...]] = {
    "recurring_fee": ("amount",),
    "usage": ("meter", "price"),
    "minimum_commitment": ("amount",),
    "prepaid_credit": ("amount", "purchase_date", "expiry_date"),
    "one_time": ("amount", "date"),
}
REVENUE_RULES: dict[str, tuple[str, ...]] = {
    "recurring_fee": ("ratable_daily", "point_in_time"),
    "usage": ("as_consumed",),
    "one_time": ("point_in_time", "ratable_daily"),
}
PRICE_FIELDS: dict[str, tuple[str, ...]] = {
    "unit": ("unit_price",),
    "graduated": ("tiers",),
    "volume": ("tiers",),
    "package": ("package_size", "package_price", "free_units"),
    "percentage": ("rate", "fixed_fee", "free_events", "free_amount", "min_per_event", "max_per_event"),
    "graduated_percentage": ("tiers",),
}
PRICE_REQUIRED: dict[str, tuple[str, ...]] = {
    "unit": ("unit_price",),
    "graduated": ("tiers",),
    "volume": ("tiers",),
    "package": ("package_size", "package_price"),
    "percentage": ("rate",),
    "graduated_percentage": ("tiers",),
}


class ScenarioError(ValueError):
    """An invalid scenario: one message naming the field (by its path) and the problem."""

    def __init__(self, path: str, problem: str):
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}" if path else problem)


# --- scalar types -----------------------------------------------------------------------------

_DECIMAL_TEXT = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?"
                             r"(?:Z|z|[+-]\d{2}(?::?\d{2})?)$")


def show(value: Any) -> str:
    """A value as the author wrote it: decimals in plain notation, no quotes around numbers."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return repr(value) if isinstance(value, str) else str(value)


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a decimal number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str) and _DECIMAL_TEXT.match(value.strip()):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            raise ValueError(f"{value!r} is not a decimal number") from None
    else:
        # A binary float never reaches here from the scenario loaders; refuse one rather than
        # guess which decimal it was meant to be.
        raise ValueError(f"{value!r} is not a decimal number")
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a decimal number")
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMAL_PLACES:
        raise ValueError(f"{show(number)} has more than {MAX_DECIMAL_PLACES} decimal places "
                         "(the warehouse keeps 9)")
    if abs(number) >= Decimal(10) ** MAX_INTEGER_DIGITS:
        raise ValueError(f"{show(number)} is too large (at most {MAX_INTEGER_DIGITS} digits before the point)")
    return number


def _date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE_TEXT.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{show(value)} is not a date (YYYY-MM-DD)")


def _timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str) and _TIMESTAMP_TEXT.match(value.strip()):
        try:
            moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment.astimezone(timezone.utc)
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$", value.strip()):
        raise ValueError(f"{show(value)} has no zone (write e.g. 2026-01-20T10:00:00Z)")
    raise ValueError(f"{show(value)} is not an ISO 8601 timestamp with a zone (e.g. 2026-01-20T10:00:00Z)")


def _key(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{show(value)} is not an identifier (write it as text)")
    text = str(value)
    if not text.strip():
        raise ValueError("is empty")
    if text != text.strip():
        raise ValueError(f"{text!r} has leading or trailing spaces")
    if len(text) > 80:
        raise ValueError(f"{text[:20]!r}... is longer than 80 characters")
    return text


Dec = Annotated[Optional[Decimal], BeforeValidator(_decimal)]
Day = Annotated[Optional[date], BeforeValidator(_date)]
Moment = Annotated[Optional[datetime], BeforeValidator(_timestamp)]
Key = Annotated[Optional[str], BeforeValidator(_key)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)

    def given(self) -> set[str]:
        """Fields the author wrote (null included), as opposed to defaults."""
        return set(self.model_fields_set)


# --- the format -------------------------------------------------------------------------------

class Customer(_Model):
    id: Key = Field(...)
    name: Optional[str] = None
    currency: Key = Field(...)
    subsidiary: Key = None  # default US

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @property
    def subsidiary_code(self) -> str:
        return self.subsidiary or "US"


class Meter(_Model):
    id: Key = Field(...)
    aggregation: Literal["sum", "count", "max", "unique_count", "latest"]
    property: Optional[str] = None
    unit: Optional[str] = None          # extension: the catalogue's unit column
    description: Optional[str] = None   # extension: the catalogue's description column


class Tier(_Model):
    up_to: Dec = Field(...)
    unit_price: Dec = None
    rate: Dec = None
    flat_fee: Dec = None


class Price(_Model):
    model: Literal["unit", "graduated", "volume", "package", "percentage", "graduated_percentage"]
    unit_price: Dec = None
    tiers: Optional[list[Tier]] = None
    package_size: Dec = None
    package_price: Dec = None
    free_units: Dec = None
    rate: Dec = None
    fixed_fee: Dec = None
    free_events: Dec = None
    free_amount: Dec = None
    min_per_event: Dec = None
    max_per_event: Dec = None


class Line(_Model):
    id: Key = Field(...)
    kind: Literal["recurring_fee", "usage", "minimum_commitment", "prepaid_credit", "one_time"]
    amount: Dec = None
    timing: Optional[Literal["in_advance", "in_arrears"]] = None
    revenue_rule: Optional[Literal["ratable_daily", "as_consumed", "point_in_time"]] = None
    meter: Key = None
    included_quantity: Dec = None
    price: Optional[Price] = None
    applies_to: Optional[list[Key]] = None
    purchase_date: Day = None
    expiry_date: Day = None
    breakage: Optional[Literal["at_expiry", "proportional"]] = None
    expected_breakage_rate: Dec = None
    date: Day = None

    @property
    def fee_timing(self) -> str | None:
        return (self.timing or "in_advance") if self.kind == "recurring_fee" else None

    @property
    def revenue(self) -> str | None:
        if self.revenue_rule:
            return self.revenue_rule
        return {"recurring_fee": "ratable_daily", "usage": "as_consumed", "one_time": "point_in_time"}.get(self.kind)

    @property
    def breakage_method(self) -> str | None:
        return (self.breakage or "at_expiry") if self.kind == "prepaid_credit" else None


class Contract(_Model):
    id: Key = Field(...)
    customer: Key = Field(...)
    start_date: Day = Field(...)
    end_date: Day = Field(...)
    billing_frequency: Literal["monthly", "quarterly", "annual"]
    billing_anchor: Literal["start", "calendar"] = "start"
    lines: list[Line]


class Amendment(_Model):
    contract: Key = Field(...)
    line: Key = Field(...)
    effective_date: Day = Field(...)
    set: Optional[dict[str, Any]] = None
    cancel: bool = False
    status: Literal["activated", "pending"] = "activated"  # extension

    # Filled in by validation: the parsed `set` values.
    _amount: Decimal | None = PrivateAttr(default=None)
    _included_quantity: Decimal | None = PrivateAttr(default=None)
    _price: Price | None = PrivateAttr(default=None)
    _key: str = PrivateAttr(default="")

    @property
    def new_amount(self) -> Decimal | None:
        return self._amount

    @property
    def new_included_quantity(self) -> Decimal | None:
        return self._included_quantity

    @property
    def new_price(self) -> Price | None:
        return self._price

    @property
    def key(self) -> str:
        return self._key

    @property
    def is_activated(self) -> bool:
        return self.status == "activated"


class UsageEvent(_Model):
    id: Key = Field(...)
    customer: Key = Field(...)
    meter: Key = Field(...)
    timestamp: Moment = Field(...)
    quantity: Dec = None  # default 1 (an occurrence)
    amount: Dec = None
    properties: Optional[dict[str, Any]] = None
    delivered_on: Day = None  # extension: the delivery folder's day; default the event's UTC date

    _where: str = PrivateAttr(default="")

    @property
    def where(self) -> str:
        """Where the event is written: usage_events[3], or a file and line."""
        return self._where

    @property
    def event_date(self) -> date:
        return self.timestamp.date()

    @property
    def delivery_date(self) -> date:
        return self.delivered_on or self.event_date

    @property
    def billed_quantity(self) -> Decimal:
        return Decimal(1) if self.quantity is None else self.quantity


class Accounting(_Model):
    closed_through: Day = None


class Scenario(_Model):
    scenario: Key = Field(...)
    as_of: Day = Field(...)
    usage_complete_through: Day = None
    accounting: Optional[Accounting] = None
    customers: list[Customer]
    meters: list[Meter] = Field(default_factory=list)  # left out: the production catalogue
    contracts: list[Contract]
    amendments: list[Amendment] = Field(default_factory=list)
    usage_events: list[UsageEvent] = Field(default_factory=list)
    usage_event_files: list[str] = Field(default_factory=list)

    _events: list[UsageEvent] = PrivateAttr(default_factory=list)
    _source: Path | None = PrivateAttr(default=None)

    @property
    def events(self) -> list[UsageEvent]:
        """Every event in load order: the inline ones, then each file's, in the order written."""
        return self._events

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def complete_through(self) -> date:
        return self.usage_complete_through or self.as_of - timedelta(days=1)

    @property
    def closed_through(self) -> date | None:
        return self.accounting.closed_through if self.accounting else None

    def customer(self, key: str) -> Customer:
        return next(c for c in self.customers if c.id == key)

    def meter(self, key: str) -> Meter:
        return next(m for m in self.meters if m.id == key)

    def contract_of_line(self, line_key: str) -> Contract:
        return next(c for c in self.contracts for ln in c.lines if ln.id == line_key)

    def amendments_of(self, contract_key: str) -> list[Amendment]:
        return [a for a in self.amendments if a.contract == contract_key]

    def applies_to(self, contract: Contract, line: Line) -> list[str]:
        """A minimum's or a credit's lines; the default spelled out (every recurring fee and usage
        line of the contract for a minimum, every usage line for a credit)."""
        if line.applies_to is not None:
            return list(line.applies_to)
        kinds = ("recurring_fee", "usage") if line.kind == "minimum_commitment" else ("usage",)
        return [other.id for other in contract.lines if other.kind in kinds]

    def cancelled_from(self, line_key: str) -> date | None:
        """First day without the line, from its earliest activated cancellation."""
        days = [a.effective_date for a in self.amendments
                if a.line == line_key and a.cancel and a.is_activated]
        return min(days) if days else None


# --- reading ----------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def currencies() -> dict[str, tuple[str, int]]:
    """ISO 4217 code -> (name, minor units), from the dbt seed the models round with."""
    with CURRENCIES_SEED.open(newline="", encoding="utf-8") as handle:
        return {row["currency_code"]: (row["name"], int(row["minor_units"])) for row in csv.DictReader(handle)}


def currency_minor_units() -> dict[str, int]:
    return {code: minor for code, (_, minor) in currencies().items()}


def catalogue_meters() -> list[Meter]:
    """The production meter catalogue (the dbt seed), for a scenario that defines no meters."""
    with METERS_SEED.open(newline="", encoding="utf-8") as handle:
        return [Meter(id=row["meter_id"], aggregation=row["aggregation"], property=row["property"] or None,
                      unit=row["unit"] or None, description=row["description"] or None)
                for row in csv.DictReader(handle)]


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; ScenarioError on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("", f"{path}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError("", f"{path}: cannot be read ({error})") from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as error:
        raise ScenarioError("", f"{path.name}: not valid YAML: {_yaml_problem(error)}") from None
    return parse_scenario(data, base_dir=path.resolve().parent, source=path.resolve())


def parse_scenario(data: Any, base_dir: Path | None = None, source: Path | None = None) -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError("", "a scenario is a mapping of fields (scenario, as_of, customers, ...)")
    scenario = _validate(Scenario, data, "")
    scenario._source = source
    if "meters" not in data:
        scenario.meters = catalogue_meters()
    for index, event in enumerate(scenario.usage_events):
        event._where = f"usage_events[{index}]"
    events = list(scenario.usage_events)
    for index, name in enumerate(scenario.usage_event_files):
        events.extend(_read_event_file(base_dir or Path.cwd(), name, f"usage_event_files[{index}]"))
    scenario._events = events
    _check(scenario)
    return scenario


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"


def _read_event_file(base_dir: Path, name: str, path: str) -> list[UsageEvent]:
    file = base_dir / name
    if not file.is_file():
        raise ScenarioError(path, f"{name} does not exist (paths are relative to the scenario file)")
    events = []
    with file.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path} ({name} line {number})"
            try:
                record = json.loads(line, parse_float=Decimal)
            except json.JSONDecodeError as error:
                raise ScenarioError(where, f"not a JSON object: {error.msg}") from None
            if not isinstance(record, dict):
                raise ScenarioError(where, "not a JSON object")
            event = _validate(UsageEvent, record, where)
            event._where = where
            events.append(event)
    return events


def _path(prefix: str, loc: tuple) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _validate(model: type[BaseModel], data: Any, prefix: str):
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        raise ScenarioError(_path(prefix, first["loc"]), _pydantic_problem(first)) from None


def _pydantic_problem(error: dict) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a field of the scenario format"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{show(value)} is not allowed (expected {expected.replace(chr(39), '')})"
    if kind == "value_error":
        return str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
    if kind in ("list_type",):
        return "must be a list"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a mapping of fields"
    if kind in ("string_type",):
        return f"{show(value)} must be text"
    if kind in ("bool_type", "bool_parsing"):
        return f"{show(value)} must be true or false"
    return error["msg"]


# --- checks -----------------------------------------------------------------------------------

def _fail(path: str, problem: str):
    raise ScenarioError(path, problem)


def _unique(items: list, what: str, path: str) -> None:
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.id in seen:
            _fail(f"{path}[{index}].id", f"{what} {item.id!r} is already defined at {path}[{seen[item.id]}]")
        seen[item.id] = index


def _not_negative(value: Decimal | None, path: str) -> None:
    if value is not None and value < 0:
        _fail(path, f"{show(value)} is negative")


def _in_minor_units(value: Decimal | None, currency: str, path: str) -> None:
    """A line's money amount has at most its currency's minor-unit decimals (scenario-format.md,
    "Clarifications"); prices and rates keep full precision and are not checked here."""
    places = currency_minor_units().get(currency)
    if value is None or places is None:
        return
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        _fail(path, f"{show(value)} has more decimals than {currency}'s {places} "
                    f"(a money amount is written in whole {currency} minor units)")


def _check(s: Scenario) -> None:
    minor = currency_minor_units()
    _unique(s.customers, "customer", "customers")
    _unique(s.meters, "meter", "meters")
    _unique(s.contracts, "contract", "contracts")
    line_paths: dict[str, str] = {}
    for ci, contract in enumerate(s.contracts):
        for li, line in enumerate(contract.lines):
            where = f"contracts[{ci}].lines[{li}].id"
            if line.id in line_paths:
                _fail(where, f"line {line.id!r} is already defined at {line_paths[line.id]} "
                             "(line ids are unique across the scenario)")
            line_paths[line.id] = where.removesuffix(".id")

    if not s.customers:
        _fail("customers", "needs at least one customer")
    for index, customer in enumerate(s.customers):
        where = f"customers[{index}]"
        if customer.currency not in minor:
            _fail(f"{where}.currency", f"{customer.currency!r} is not an ISO 4217 currency the warehouse knows "
                                       f"(dbt_project/seeds/currencies.csv)")
        if customer.subsidiary_code not in SUBSIDIARIES:
            _fail(f"{where}.subsidiary", f"{customer.subsidiary!r} is not a subsidiary "
                                         f"(expected {' or '.join(SUBSIDIARIES)})")

    for index, meter in enumerate(s.meters):
        where = f"meters[{index}]"
        if meter.aggregation != "count" and not meter.property:
            _fail(f"{where}.property", f"is required for aggregation {meter.aggregation} "
                                       "(the event field aggregated)")
        if meter.aggregation in ("sum", "max", "latest") and meter.property not in ("quantity", "amount"):
            _fail(f"{where}.property", f"{meter.property!r} cannot be aggregated with {meter.aggregation} "
                                       "(a numeric event field: quantity or amount)")

    customers = {c.id for c in s.customers}
    meters = {m.id: m for m in s.meters}
    if not s.contracts:
        _fail("contracts", "needs at least one contract")
    for ci, contract in enumerate(s.contracts):
        _check_contract(s, contract, f"contracts[{ci}]", customers, meters)
    _check_overlapping_usage_lines(s)
    _check_amendments(s, line_paths)
    for event in s.events:
        _check_event(event, event.where, customers, meters, s.as_of)


def _check_contract(s: Scenario, contract: Contract, where: str, customers: set[str], meters: dict) -> None:
    if contract.customer not in customers:
        _fail(f"{where}.customer", f"{contract.customer!r} is not a customer of the scenario")
    if contract.end_date < contract.start_date:
        _fail(f"{where}.end_date", f"{show(contract.end_date)} is before the start_date {show(contract.start_date)}")
    if not contract.lines:
        _fail(f"{where}.lines", "needs at least one line")
    kinds = {line.id: line.kind for line in contract.lines}
    for li, line in enumerate(contract.lines):
        path = f"{where}.lines[{li}]"
        written = line.given() - {"id", "kind"}
        for name in sorted(written, key=list(Line.model_fields).index):
            if name not in KIND_FIELDS[line.kind] and getattr(line, name) is not None:
                _fail(f"{path}.{name}", f"does not apply to a {line.kind} line "
                                        f"(its fields: {', '.join(KIND_FIELDS[line.kind])})")
        for name in KIND_REQUIRED[line.kind]:
            if getattr(line, name) is None:
                _fail(f"{path}.{name}", f"is required for a {line.kind} line")
        for name in ("amount", "included_quantity", "expected_breakage_rate"):
            _not_negative(getattr(line, name), f"{path}.{name}")
        _in_minor_units(line.amount, s.customer(contract.customer).currency, f"{path}.amount")
        if line.revenue_rule is not None and line.revenue_rule not in REVENUE_RULES.get(line.kind, ()):
            allowed = REVENUE_RULES.get(line.kind)
            _fail(f"{path}.revenue_rule", f"{line.revenue_rule} does not apply to a {line.kind} line"
                  + (f" (expected {' or '.join(allowed)})" if allowed else ""))
        if line.kind == "usage":
            if line.meter not in meters:
                _fail(f"{path}.meter", f"{line.meter!r} is not a meter of the scenario")
            _check_price(line.price, f"{path}.price")
            meter = meters[line.meter]
            if line.price.model == "percentage" and (meter.aggregation != "sum" or meter.property != "amount"):
                _fail(f"{path}.meter", f"a percentage price charges each event's amount: it needs a meter that "
                                       f"sums the events' amount; {line.meter!r} is {meter.aggregation} of "
                                       f"{meter.property}")
            if line.price.model == "graduated_percentage" and meter.aggregation != "sum":
                _fail(f"{path}.meter", f"a graduated_percentage price takes the meter's aggregated value, which "
                                       f"must be a sum; {line.meter!r} is {meter.aggregation} of {meter.property}")
            if line.price.model == "percentage" and line.included_quantity:
                _fail(f"{path}.included_quantity", _PERCENTAGE_INCLUDED.format(show(line.included_quantity)))
        if line.kind in ("minimum_commitment", "prepaid_credit") and line.applies_to is not None:
            wanted = ("recurring_fee", "usage") if line.kind == "minimum_commitment" else ("usage",)
            if not line.applies_to:
                _fail(f"{path}.applies_to", "is empty (leave it out for the default)")
            for ai, target in enumerate(line.applies_to):
                if target not in kinds:
                    _fail(f"{path}.applies_to[{ai}]", f"{target!r} is not a line of contract {contract.id}")
                if kinds[target] not in wanted:
                    _fail(f"{path}.applies_to[{ai}]", f"{target!r} is a {kinds[target]} line; a {line.kind} "
                                                      f"applies to {' and '.join(wanted)} lines only")
            if len(set(line.applies_to)) != len(line.applies_to):
                _fail(f"{path}.applies_to", "names a line twice")
        if line.kind == "prepaid_credit":
            if line.expiry_date < line.purchase_date:
                _fail(f"{path}.expiry_date", f"{show(line.expiry_date)} is before the purchase_date "
                                             f"{show(line.purchase_date)}")
            if line.breakage_method == "proportional":
                if line.expected_breakage_rate is None:
                    _fail(f"{path}.expected_breakage_rate", "is required with breakage: proportional")
                if line.expected_breakage_rate >= 1:
                    _fail(f"{path}.expected_breakage_rate",
                          f"{show(line.expected_breakage_rate)} is not below 1 (a fraction: 0.10 = 10%)")


def _check_price(price: Price, where: str) -> None:
    for name in sorted(price.given() - {"model"}, key=list(Price.model_fields).index):
        if name not in PRICE_FIELDS[price.model] and getattr(price, name) is not None:
            _fail(f"{where}.{name}", f"does not apply to the {price.model} model "
                                     f"(its fields: {', '.join(PRICE_FIELDS[price.model])})")
    for name in PRICE_REQUIRED[price.model]:
        if getattr(price, name) is None:
            _fail(f"{where}.{name}", f"is required for the {price.model} model")
    for name in ("unit_price", "package_price", "free_units", "rate", "fixed_fee", "free_events",
                 "free_amount", "min_per_event", "max_per_event"):
        _not_negative(getattr(price, name), f"{where}.{name}")
    if price.package_size is not None and price.package_size <= 0:
        _fail(f"{where}.package_size", f"{show(price.package_size)} is not above 0")
    if price.free_events is not None and price.free_events != price.free_events.to_integral_value():
        _fail(f"{where}.free_events", f"{show(price.free_events)} is not a whole number of events")
    if (price.min_per_event is not None and price.max_per_event is not None
            and price.min_per_event > price.max_per_event):
        _fail(f"{where}.max_per_event", f"{show(price.max_per_event)} is below min_per_event "
                                        f"{show(price.min_per_event)}")
    if price.model in TIERED_MODELS:
        _check_tiers(price.tiers, price.model, f"{where}.tiers")


def _check_tiers(tiers: list[Tier], model: str, where: str) -> None:
    if not tiers:
        _fail(where, f"needs at least one tier for the {model} model")
    field = "rate" if model == "graduated_percentage" else "unit_price"
    other = "unit_price" if field == "rate" else "rate"
    previous: Decimal | None = None
    for index, tier in enumerate(tiers):
        path = f"{where}[{index}]"
        if getattr(tier, field) is None:
            _fail(f"{path}.{field}", f"is required in a {model} tier")
        if getattr(tier, other) is not None:
            _fail(f"{path}.{other}", f"does not apply to a {model} tier (it uses {field})")
        _not_negative(getattr(tier, field), f"{path}.{field}")
        _not_negative(tier.flat_fee, f"{path}.flat_fee")
        if tier.up_to is None:
            if index != len(tiers) - 1:
                _fail(f"{path}.up_to", "null (no upper bound) is allowed on the last tier only")
            continue
        if tier.up_to <= 0:
            _fail(f"{path}.up_to", f"{show(tier.up_to)} is not above 0")
        if previous is not None and tier.up_to <= previous:
            _fail(f"{path}.up_to", f"{show(tier.up_to)} is not above the previous tier's {show(previous)}")
        previous = tier.up_to
    if tiers[-1].up_to is not None:
        _fail(f"{where}[{len(tiers) - 1}].up_to",
              f"the last tier needs up_to: null (no upper bound), not {show(tiers[-1].up_to)}")


def _check_overlapping_usage_lines(s: Scenario) -> None:
    """An event must map to exactly one usage line: one customer's usage lines of one meter may
    not run on the same days (the format gives no rule for choosing between them)."""
    seen: dict[tuple[str, str], list[tuple[date, date, str, str]]] = {}
    for ci, contract in enumerate(s.contracts):
        for li, line in enumerate(contract.lines):
            if line.kind != "usage":
                continue
            cancelled = s.cancelled_from(line.id)
            end = min(contract.end_date, cancelled - timedelta(days=1)) if cancelled else contract.end_date
            key = (contract.customer, line.meter)
            for start0, end0, other, _ in seen.get(key, []):
                if contract.start_date <= end0 and start0 <= end:
                    shared = f"{show(max(start0, contract.start_date))}..{show(min(end0, end))}"
                    _fail(f"contracts[{ci}].lines[{li}].meter",
                          f"line {other} already bills meter {line.meter!r} for customer {contract.customer!r} "
                          f"on some of the same days ({shared}); an event must belong to exactly one usage line")
            seen.setdefault(key, []).append((contract.start_date, end, line.id, f"contracts[{ci}].lines[{li}]"))


# docs/scenarios.md, "Open readings decided (issue 22)": a percentage price charges event by event,
# so an included quantity has no one meaning there; its allowance is free_amount / free_events.
_PERCENTAGE_INCLUDED = ("{} does not apply to a percentage price (it charges event by event; its allowance "
                        "is price.free_amount or price.free_events, per billing period)")


def _check_amendments(s: Scenario, line_paths: dict[str, str]) -> None:
    contracts = {c.id: c for c in s.contracts}
    counters: dict[str, int] = {}
    dates: dict[tuple[str, date], int] = {}
    for index, amendment in enumerate(s.amendments):
        where = f"amendments[{index}]"
        contract = contracts.get(amendment.contract)
        if contract is None:
            _fail(f"{where}.contract", f"{amendment.contract!r} is not a contract of the scenario")
        line = next((ln for ln in contract.lines if ln.id == amendment.line), None)
        if line is None:
            owner = "" if amendment.line not in line_paths else f" (it belongs to {s.contract_of_line(amendment.line).id})"
            _fail(f"{where}.line", f"{amendment.line!r} is not a line of contract {contract.id}{owner}")
        if not contract.start_date < amendment.effective_date <= contract.end_date:
            _fail(f"{where}.effective_date",
                  f"{show(amendment.effective_date)} is outside contract {contract.id} (an amendment takes effect "
                  f"after its start {show(contract.start_date)} and on or before its end {show(contract.end_date)})")
        if (amendment.line, amendment.effective_date) in dates:
            _fail(f"{where}.effective_date",
                  f"amendments[{dates[(amendment.line, amendment.effective_date)]}] already changes line "
                  f"{amendment.line} on {show(amendment.effective_date)}")
        dates[(amendment.line, amendment.effective_date)] = index
        if amendment.cancel:
            if amendment.set:
                _fail(f"{where}.set", "cannot be combined with cancel: true")
            if line.kind not in CANCELLABLE_KINDS:
                _fail(f"{where}.cancel", f"a {line.kind} line cannot be cancelled "
                                         f"(only {', '.join(CANCELLABLE_KINDS)} lines)")
        else:
            if not amendment.set:
                _fail(f"{where}.set", "is required (the new terms), unless the amendment cancels the line "
                                      "(cancel: true)")
            _check_set(amendment, line, f"{where}.set", s.customer(contract.customer).currency)
            if line.kind == "usage" and line.price.model == "percentage" and amendment.new_included_quantity:
                # Still percentage-priced on that day unless this or an earlier amendment set a new price.
                repriced = any(other.line == line.id and other.set and "price" in other.set
                               and other.effective_date <= amendment.effective_date for other in s.amendments)
                if not repriced:
                    _fail(f"{where}.set.included_quantity",
                          _PERCENTAGE_INCLUDED.format(show(amendment.new_included_quantity)))
        counters[contract.id] = counters.get(contract.id, 0) + 1
        amendment._key = f"{contract.id}-A{counters[contract.id]}"


def _check_set(amendment: Amendment, line: Line, where: str, currency: str) -> None:
    for name, value in amendment.set.items():
        path = f"{where}.{name}"
        if name not in AMENDABLE:
            what = "cannot be amended" if name in Line.model_fields else "is not a line field"
            _fail(path, f"{what} (an amendment may set {', '.join(AMENDABLE)})")
        if line.kind not in AMENDABLE[name]:
            _fail(path, f"does not apply to a {line.kind} line (amendable on {', '.join(AMENDABLE[name])} lines)")
        if name == "price":
            if not isinstance(value, dict):
                _fail(path, "must be a mapping of fields (model and its parameters)")
            price = _validate(Price, value, path)
            if price.model not in AMENDABLE_PRICE_MODELS:
                _fail(f"{path}.model", f"{price.model} prices cannot be amended "
                                       f"(an amendment may set {', '.join(AMENDABLE_PRICE_MODELS)})")
            family = "amount" if line.price.model in AMOUNT_MODELS else "quantity"
            if (price.model in AMOUNT_MODELS) != (family == "amount"):
                _fail(f"{path}.model", f"{price.model} cannot replace the line's {line.price.model} price "
                                       f"(one prices the events' {'amount' if price.model in AMOUNT_MODELS else 'quantity'}, "
                                       f"the other their {family})")
            _check_price(price, path)
            amendment._price = price
        else:
            try:
                number = _decimal(value)
            except ValueError as error:
                _fail(path, str(error))
            if number is None:
                _fail(path, "is null (write the new value)")
            _not_negative(number, path)
            if name == "amount":
                _in_minor_units(number, currency, path)
                amendment._amount = number
            else:
                amendment._included_quantity = number


def _check_event(event: UsageEvent, where: str, customers: set[str], meters: dict[str, Meter],
                 as_of: date) -> None:
    if event.customer not in customers:
        _fail(f"{where}.customer", f"{event.customer!r} is not a customer of the scenario")
    if event.meter not in meters:
        _fail(f"{where}.meter", f"{event.meter!r} is not a meter of the scenario")
    _not_negative(event.quantity, f"{where}.quantity")
    _not_negative(event.amount, f"{where}.amount")
    meter = meters[event.meter]
    if meter.property == "amount" and event.amount is None:
        _fail(f"{where}.amount", f"is required: meter {meter.id!r} aggregates the events' amount")
    if event.delivered_on is not None and event.delivered_on < event.event_date:
        _fail(f"{where}.delivered_on", f"{show(event.delivered_on)} is before the event's own date "
                                       f"{show(event.event_date)}")
    # The run holds what was delivered by as_of (docs/scenarios.md, "Open readings decided (issue 22)"):
    # an event delivered later, or dated later (delivered on or after its own date), is not known yet.
    if event.delivered_on is not None and event.delivered_on > as_of:
        _fail(f"{where}.delivered_on", f"{show(event.delivered_on)} is after as_of {show(as_of)}: "
                                       "a run only holds the usage delivered by its date")
    if event.event_date > as_of:
        _fail(f"{where}.timestamp", f"{event.timestamp.strftime('%Y-%m-%dT%H:%M:%SZ')} (UTC) is after as_of "
                                    f"{show(as_of)}: a run only holds the usage delivered by its date")
