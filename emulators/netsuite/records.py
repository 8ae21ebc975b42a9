"""Record types: their fields, how a request body is checked and normalised, and the per-type
rules (usage ownership, journal balance and closed periods).

Stored records keep REST field names. Normalised values: text as ``str``, integers as ``int``,
money and quantities as ``Decimal``, dates as ``YYYY-MM-DD`` strings, booleans as ``bool``,
references as ``{"id": "<internal id>"}``, sublists as ``{"items": [...]}``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Callable, Protocol

from emulators.netsuite.errors import NetSuiteError, invalid_content, user_error


@dataclass(frozen=True)
class FieldSpec:
    kind: str  # str | int | decimal | date | bool | enum | ref | refs
    ref: str | None = None  # referenced record type; None: a reference the emulator does not check
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class SublistSpec:
    fields: dict[str, FieldSpec]
    required: tuple[str, ...] = ()
    custom_prefix: str | None = None


@dataclass(frozen=True)
class RecordSpec:
    name: str
    fields: dict[str, FieldSpec]
    required: tuple[str, ...] = ()
    sublists: dict[str, SublistSpec] = field(default_factory=dict)
    custom_prefixes: tuple[str, ...] = ()
    id_space: str | None = None  # record types sharing internal IDs (transactions)

    @property
    def space(self) -> str:
        return self.id_space or self.name


S, I, D, DATE, B = FieldSpec("str"), FieldSpec("int"), FieldSpec("decimal"), FieldSpec("date"), FieldSpec("bool")


def ref(target: str | None) -> FieldSpec:
    return FieldSpec("ref", target)


EXTERNAL_ID = {"externalId": S}

SUBSCRIPTION_LINE_FIELDS = {
    **EXTERNAL_ID, "subscription": ref("subscription"), "item": ref("item"), "lineNumber": I,
    "subscriptionLineType": FieldSpec("enum", choices=("Usage", "Recurring", "One Time")),
    "startDate": DATE, "endDate": DATE, "status": S, "pricePlan": ref("priceplan"),
}

SPECS: dict[str, RecordSpec] = {spec.name: spec for spec in [
    RecordSpec("subsidiary", {**EXTERNAL_ID, "name": S, "currency": ref("currency"), "country": S},
               required=("name",)),
    RecordSpec("currency", {**EXTERNAL_ID, "symbol": S, "name": S, "currencyPrecision": I},
               required=("symbol",)),
    RecordSpec("currencyrate", {**EXTERNAL_ID, "baseCurrency": ref("currency"),
                                "transactionCurrency": ref("currency"), "exchangeRate": D,
                                "effectiveDate": DATE},
               required=("baseCurrency", "transactionCurrency", "exchangeRate", "effectiveDate")),
    RecordSpec("account", {**EXTERNAL_ID, "acctNumber": S, "acctName": S, "acctType": S},
               required=("acctName",)),
    RecordSpec("customer", {**EXTERNAL_ID, "entityId": S, "companyName": S,
                            "subsidiary": ref("subsidiary"), "currency": ref("currency")},
               required=("companyName", "subsidiary"), custom_prefixes=("custentity_",)),
    RecordSpec("item", {**EXTERNAL_ID, "itemId": S, "displayName": S, "itemType": S},
               required=("itemId",), custom_prefixes=("custitem_",)),
    RecordSpec("priceplan", {**EXTERNAL_ID, "currency": ref("currency"),
                             "priceModelType": FieldSpec("enum", choices=(
                                 "unit", "graduated", "volume", "package", "flat")),
                             "packageSize": D},
               required=("priceModelType",),
               sublists={"priceTiers": SublistSpec({"fromVal": D, "toVal": D, "price": D, "flatFee": D})}),
    RecordSpec("subscription", {**EXTERNAL_ID, "customer": ref("customer"), "subsidiary": ref("subsidiary"),
                                "currency": ref("currency"), "startDate": DATE, "endDate": DATE,
                                "billingFrequency": S, "status": S},
               required=("customer", "startDate"),
               sublists={"subscriptionLine": SublistSpec(
                   {k: v for k, v in SUBSCRIPTION_LINE_FIELDS.items() if k != "subscription"},
                   required=("item",))}),
    RecordSpec("subscriptionline", SUBSCRIPTION_LINE_FIELDS, required=("subscription", "item")),
    RecordSpec("accountingperiod", {**EXTERNAL_ID, "periodName": S, "startDate": DATE, "endDate": DATE,
                                    "closed": B, "allLocked": B, "arLocked": B, "apLocked": B,
                                    "isQuarter": B, "isYear": B},
               required=("periodName", "startDate", "endDate")),
    RecordSpec("usage", {**EXTERNAL_ID, "customer": ref("customer"), "usageSubscription": ref("subscription"),
                         "usageSubscriptionLine": ref("subscriptionline"), "usageQuantity": D,
                         "usageDate": DATE, "subscriptionPlan": ref(None), "memo": S},
               required=("usageSubscription", "usageSubscriptionLine", "usageQuantity", "usageDate")),
    RecordSpec("invoice", {**EXTERNAL_ID, "tranId": S, "entity": ref("customer"),
                           "subscription": ref("subscription"), "tranDate": DATE,
                           "postingPeriod": ref("accountingperiod"), "currency": ref("currency"),
                           "total": D, "memo": S},
               required=("entity", "tranDate"), custom_prefixes=("custbody_",), id_space="transaction",
               sublists={"item": SublistSpec({"item": ref("item"), "subscriptionLine": ref("subscriptionline"),
                                              "quantity": D, "rate": D, "amount": D,
                                              "usage": FieldSpec("refs", "usage"), "description": S},
                                             required=("item",), custom_prefix="custcol_")}),
    RecordSpec("journalentry", {**EXTERNAL_ID, "subsidiary": ref("subsidiary"), "currency": ref("currency"),
                                "tranDate": DATE, "postingPeriod": ref("accountingperiod"), "memo": S},
               required=("subsidiary", "currency", "tranDate"), custom_prefixes=("custbody_",),
               id_space="transaction",
               sublists={"line": SublistSpec({"account": ref("account"), "debit": D, "credit": D,
                                              "entity": ref("customer"), "memo": S, "department": ref(None),
                                              "class": ref(None), "location": ref(None)},
                                             custom_prefix="custcol_")}),
]}

# Accepted spellings that are stored under the REST name.
ALIASES = {"journalentry": {"trandate": "tranDate"}, "invoice": {"trandate": "tranDate"}}
# Fields a client may send back from a GET; the server owns them.
IGNORED = {"id", "links", "lastModifiedDate", "refName"}

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RecordLookup(Protocol):
    def get(self, record_type: str, internal_id: str) -> dict | None: ...
    def id_for_external(self, record_type: str, external_id: str) -> str | None: ...
    def all(self, record_type: str) -> list[dict]: ...


def spec_for(record_type: str) -> RecordSpec:
    spec = SPECS.get(record_type)
    if spec is None:
        raise NetSuiteError(404, "INVALID_RCRD_TYPE", f"Record type '{record_type}' does not exist.")
    return spec


def parse_date(value: str, path: str) -> date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise invalid_content(f"Invalid date value '{value}' for field {path}; use YYYY-MM-DD.", path)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid_content(f"Invalid date value '{value}' for field {path}; use YYYY-MM-DD.", path) from None


def to_decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _bad(value: Any, path: str, expected: str) -> NetSuiteError:
    return invalid_content(f"Invalid value {value!r} for field {path}: expected {expected}.", path)


def resolve_reference(store: RecordLookup, target: str | None, value: Any, path: str) -> dict:
    name = path.rsplit(".", 1)[-1]
    if not isinstance(value, dict) or not ({"id", "externalId"} & value.keys()):
        raise invalid_content(f"Invalid reference for field {name}: expected an object with an id.", path)
    if value.get("id") not in (None, ""):
        internal_id = str(value["id"])
        if target is None or store.get(target, internal_id) is not None:
            return {"id": internal_id}
        shown = internal_id
    else:
        external_id = str(value.get("externalId"))
        found = store.id_for_external(target, external_id) if target else None
        if found is not None:
            return {"id": found}
        if target is None:
            raise invalid_content(f"Invalid reference for field {name}: reference it by id.", path)
        shown = f"eid:{external_id}"
    raise invalid_content(
        f"Error while accessing a resource. You have entered an Invalid Field Value {shown} for the "
        f"following field: {name}", path)


def normalize_value(store: RecordLookup, spec: FieldSpec, value: Any, path: str) -> Any:
    if value is None:
        return None
    kind = spec.kind
    if kind == "str":
        if not isinstance(value, str):
            raise _bad(value, path, "text")
        return value
    if kind == "enum":
        if value not in spec.choices:
            raise _bad(value, path, "one of " + ", ".join(spec.choices))
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise _bad(value, path, "true or false")
        return value
    if kind == "int":
        if isinstance(value, bool):
            raise _bad(value, path, "an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return int(value)
        raise _bad(value, path, "an integer")
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
            raise _bad(value, path, "a number")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise _bad(value, path, "a number") from None
        if not number.is_finite():
            raise _bad(value, path, "a number")
        return number
    if kind == "date":
        parse_date(value, path)
        return value
    if kind == "ref":
        return resolve_reference(store, spec.ref, value, path)
    if kind == "refs":
        items = value.get("items") if isinstance(value, dict) else value
        if not isinstance(items, list):
            raise _bad(value, path, "a list of references")
        return [resolve_reference(store, spec.ref, item, f"{path}[{i}]") for i, item in enumerate(items)]
    raise AssertionError(kind)


def _normalize_fields(store: RecordLookup, fields: dict[str, FieldSpec], body: dict, prefix: str,
                      custom_prefixes: tuple[str, ...], aliases: dict[str, str],
                      sublists: dict[str, SublistSpec] | None = None) -> dict:
    out: dict[str, Any] = {}
    for raw_name, value in body.items():
        name = aliases.get(raw_name, raw_name)
        path = prefix + name
        if name in IGNORED:
            continue
        if sublists and name in sublists:
            out[name] = _normalize_sublist(store, sublists[name], value, path)
        elif name in fields:
            out[name] = normalize_value(store, fields[name], value, path)
        elif custom_prefixes and name.startswith(custom_prefixes):
            out[name] = value
        else:
            raise invalid_content(f"Error while accessing a resource. Invalid field name: {raw_name}.", path)
    return out


def _normalize_sublist(store: RecordLookup, spec: SublistSpec, value: Any, path: str) -> dict:
    items = value.get("items") if isinstance(value, dict) else None
    if not isinstance(items, list):
        raise invalid_content(f"Invalid value for sublist {path}: expected {{\"items\": [...]}}.", path)
    lines = []
    for index, item in enumerate(items):
        item_path = f"{path}.items[{index}]"
        if not isinstance(item, dict):
            raise invalid_content(f"Invalid sublist line {item_path}: expected an object.", item_path)
        prefixes = (spec.custom_prefix,) if spec.custom_prefix else ()
        line = _normalize_fields(store, spec.fields, item, item_path + ".", prefixes, {})
        if "id" in item and item["id"] is not None:
            line["id"] = str(item["id"])  # identifies an existing line (subscription lines)
        lines.append(line)
    return {"items": lines}


def normalize_body(store: RecordLookup, spec: RecordSpec, body: Any) -> dict:
    """Check a request body's fields and references; return the normalised fields."""
    if not isinstance(body, dict):
        raise invalid_content("The request body must be a JSON object.")
    return _normalize_fields(store, spec.fields, body, "", spec.custom_prefixes,
                             ALIASES.get(spec.name, {}), spec.sublists)


def check_required(spec: RecordSpec, record: dict) -> None:
    for name in spec.required:
        if record.get(name) in (None, ""):
            raise user_error(f"Please enter value(s) for: {name}", name)
    for sublist_name, sublist in spec.sublists.items():
        for index, line in enumerate((record.get(sublist_name) or {}).get("items", [])):
            for name in sublist.required:
                if line.get(name) in (None, ""):
                    path = f"{sublist_name}.items[{index}].{name}"
                    raise user_error(f"Please enter value(s) for: {name}", path)


# Per-type rules ---------------------------------------------------------------------------------

def currency_precision(store: RecordLookup, currency_ref: dict | None) -> int:
    currency = store.get("currency", currency_ref["id"]) if currency_ref else None
    precision = (currency or {}).get("currencyPrecision")
    return 2 if precision is None else int(precision)


def round_money(amount: Decimal, precision: int) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-precision), rounding=ROUND_HALF_UP)


def base_period_for(store: RecordLookup, day: str) -> dict | None:
    """The accounting period (not a quarter or year) that contains a date."""
    for period in store.all("accountingperiod"):
        if period.get("isQuarter") or period.get("isYear"):
            continue
        if period["startDate"] <= day <= period["endDate"]:
            return period
    return None


def check_usage(store: RecordLookup, record: dict) -> None:
    subscription = store.get("subscription", record["usageSubscription"]["id"])
    line = store.get("subscriptionline", record["usageSubscriptionLine"]["id"])
    if line["subscription"]["id"] != subscription["id"]:
        raise user_error(
            f"Subscription line {line['id']} does not belong to subscription {subscription['id']}.",
            "usageSubscriptionLine")
    owner = subscription["customer"]["id"]
    if record.get("customer") is None:
        record["customer"] = {"id": owner}
    elif record["customer"]["id"] != owner:
        raise user_error(
            f"Subscription {subscription['id']} does not belong to customer {record['customer']['id']}.",
            "customer")


def _refuses_posting(period: dict) -> str | None:
    """Why a period takes no journal entry: closed, or locked for all transactions ("All Locked",
    the step before closing). AR / AP locks only stop invoices and bills."""
    if period.get("closed"):
        return "closed"
    if period.get("allLocked"):
        return "locked"
    return None


def check_journal(store: RecordLookup, record: dict) -> None:
    lines = (record.get("line") or {}).get("items", [])
    if len(lines) < 2:
        raise user_error("A journal entry must have at least two lines.", "line")
    precision = currency_precision(store, record.get("currency"))
    debits = credits = Decimal(0)
    for index, line in enumerate(lines):
        path = f"line.items[{index}]"
        if line.get("account") is None:
            raise user_error("Please enter value(s) for: account", path + ".account")
        has_debit, has_credit = line.get("debit") is not None, line.get("credit") is not None
        if has_debit == has_credit:
            raise user_error("Each journal line needs exactly one of debit or credit.", path)
        side = "debit" if has_debit else "credit"
        amount = round_money(line[side], precision)
        if amount < 0:
            raise user_error(f"The {side} amount of a journal line cannot be negative.", f"{path}.{side}")
        line[side] = amount
        if has_debit:
            debits += amount
        else:
            credits += amount
    if debits != credits:
        raise user_error(f"This transaction is not in balance: debits {debits} do not equal credits "
                         f"{credits}.", "line")
    period = base_period_for(store, record["tranDate"])
    if period is not None and _refuses_posting(period):
        raise user_error(f"The accounting period {period.get('periodName')} is {_refuses_posting(period)}; "
                         f"a transaction dated {record['tranDate']} cannot be posted.", "tranDate")
    if record.get("postingPeriod"):
        posting = store.get("accountingperiod", record["postingPeriod"]["id"])
        if _refuses_posting(posting):
            raise user_error(f"The accounting period {posting.get('periodName')} is {_refuses_posting(posting)}.",
                             "postingPeriod")
    elif period is not None:
        record["postingPeriod"] = {"id": period["id"]}


def check_invoice(store: RecordLookup, record: dict) -> None:
    lines = (record.get("item") or {}).get("items", [])
    if lines:
        record["total"] = sum((line.get("amount") or Decimal(0) for line in lines), Decimal(0))
    if record.get("postingPeriod") is None:
        period = base_period_for(store, record["tranDate"])
        if period is not None:
            record["postingPeriod"] = {"id": period["id"]}


TYPE_RULES: dict[str, Callable[[RecordLookup, dict], None]] = {
    "usage": check_usage,
    "journalentry": check_journal,
    "invoice": check_invoice,
}
