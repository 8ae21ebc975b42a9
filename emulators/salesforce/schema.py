"""The object model the emulator holds (docs/object-model.md, Salesforce section), and value checks.

Names are case-insensitive as in Salesforce (``account`` / ``customer_key__c`` work) and always
answered in their declared spelling. Values are checked by field type the way the REST API does:
numbers must be JSON numbers (kept as ``Decimal``), dates ``YYYY-MM-DD``, datetimes ISO 8601 (stored
as ``2026-10-01T12:00:00.000+0000``), booleans ``true``/``false``, restricted picklists one of their
values, references an existing record of the referenced object (checked by the store).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from decimal import Decimal, InvalidOperation
from typing import Any

from emulators.salesforce.errors import SalesforceError

STRING, TEXTAREA, PICKLIST, CURRENCY, DOUBLE, DATE, DATETIME, BOOLEAN, REFERENCE, ID = (
    "string", "textarea", "picklist", "currency", "double", "date", "datetime", "boolean", "reference", "id")
NUMERIC_TYPES = (CURRENCY, DOUBLE)
TEXT_TYPES = (STRING, TEXTAREA, PICKLIST, REFERENCE, ID)


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    required: bool = False          # nillable false and no default: REQUIRED_FIELD_MISSING when absent
    external_id: bool = False
    unique: bool = False            # a unique External ID: DUPLICATE_VALUE on a second record
    reference_to: str | None = None
    values: tuple[str, ...] = ()    # restricted picklist values (empty: any value)
    length: int | None = None
    writable: bool = True           # system fields are read-only
    label: str = ""

    @property
    def relationship_name(self) -> str | None:
        """``Contract__c`` → ``Contract__r``; ``AccountId`` → ``Account`` (SOQL paths, ``__r`` writes)."""
        if self.type != REFERENCE:
            return None
        if self.name.endswith("__c"):
            return self.name[:-3] + "__r"
        return self.name[:-2] if self.name.endswith("Id") else None


@dataclass
class ObjectDef:
    name: str
    key_prefix: str
    fields: dict[str, FieldDef] = field(default_factory=dict)
    label: str = ""

    def __post_init__(self) -> None:
        self._by_lower = {name.lower(): definition for name, definition in self.fields.items()}
        self._relationships = {
            definition.relationship_name.lower(): definition
            for definition in self.fields.values() if definition.relationship_name
        }

    def field(self, name: str) -> FieldDef | None:
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field behind a relationship name (``Account__r``, ``Contract``)."""
        return self._relationships.get(name.lower())

    @property
    def external_id_fields(self) -> list[FieldDef]:
        return [definition for definition in self.fields.values() if definition.external_id]

    @property
    def required_fields(self) -> list[FieldDef]:
        return [definition for definition in self.fields.values() if definition.required]

    def describe(self, version: str) -> dict:
        return {
            "name": self.name,
            "label": self.label or self.name,
            "keyPrefix": self.key_prefix,
            "custom": self.name.endswith("__c"),
            "createable": True, "updateable": True, "deletable": True, "queryable": True,
            "urls": {"sobject": f"/services/data/v{version}/sobjects/{self.name}",
                     "describe": f"/services/data/v{version}/sobjects/{self.name}/describe",
                     "rowTemplate": f"/services/data/v{version}/sobjects/{self.name}/{{ID}}"},
            "fields": [
                {
                    "name": definition.name,
                    "label": definition.label or definition.name,
                    "type": definition.type,
                    "nillable": not definition.required and definition.type != BOOLEAN,
                    "createable": definition.writable,
                    "updateable": definition.writable,
                    "externalId": definition.external_id,
                    "unique": definition.unique,
                    "idLookup": definition.external_id or definition.name == "Id",
                    "referenceTo": [definition.reference_to] if definition.reference_to else [],
                    "relationshipName": definition.relationship_name,
                    "length": definition.length or 0,
                    "picklistValues": [{"value": value, "label": value, "active": True}
                                       for value in definition.values],
                    "restrictedPicklist": bool(definition.values),
                }
                for definition in self.fields.values()
            ],
        }


# The object model -------------------------------------------------------------------------------
def _text(name: str, length: int = 255, **kw: Any) -> FieldDef:
    return FieldDef(name, STRING, length=length, **kw)


def _ext(name: str, unique: bool = False) -> FieldDef:
    return FieldDef(name, STRING, external_id=True, unique=unique, length=255)


def _pick(name: str, *values: str, **kw: Any) -> FieldDef:
    return FieldDef(name, PICKLIST, values=tuple(values), length=255, **kw)


def _ref(name: str, to: str, **kw: Any) -> FieldDef:
    return FieldDef(name, REFERENCE, reference_to=to, length=18, **kw)


def _money(name: str) -> FieldDef:
    return FieldDef(name, CURRENCY)


def _num(name: str, **kw: Any) -> FieldDef:
    return FieldDef(name, DOUBLE, **kw)


def _date(name: str, **kw: Any) -> FieldDef:
    return FieldDef(name, DATE, **kw)


CURRENCY_ISO_CODE = FieldDef("CurrencyIsoCode", PICKLIST, length=3)
PRICE_MODELS = ("unit", "graduated", "volume", "package", "percentage", "graduated_percentage")


def _standard_fields() -> list[FieldDef]:
    return [
        FieldDef("Id", ID, writable=False, length=18),
        FieldDef("IsDeleted", BOOLEAN, writable=False),
        FieldDef("CreatedDate", DATETIME, writable=False),
        FieldDef("LastModifiedDate", DATETIME, writable=False),
        FieldDef("SystemModstamp", DATETIME, writable=False),
    ]


def _object(name: str, prefix: str, fields: list[FieldDef]) -> ObjectDef:
    all_fields = _standard_fields() + fields
    return ObjectDef(name=name, key_prefix=prefix, fields={definition.name: definition for definition in all_fields})


OBJECTS: dict[str, ObjectDef] = {definition.name: definition for definition in [
    _object("Account", "001", [
        _text("Name", required=True),
        _ext("Customer_Key__c", unique=True),
        CURRENCY_ISO_CODE,
        _pick("Subsidiary__c", "US", "EU"),
        _text("NetSuite_Customer_Id__c"),
        _money("Credit_Balance__c"),
        # Written by meterledger (sync_salesforce__accounts): the highest committed quantity
        # alert (commit_80, commit_100), the alerts' messages and the earliest credit run-out.
        _text("Usage_Alert_Level__c", length=40),
        FieldDef("Usage_Alert__c", TEXTAREA, length=1000),
        _date("Credit_Runout_Date__c"),
    ]),
    _object("Contract", "800", [
        _ref("AccountId", "Account", required=True),
        _ext("Contract_Key__c"),
        _pick("Status", "Draft", "Activated", required=True),
        _date("StartDate"),
        _date("EndDate"),
        CURRENCY_ISO_CODE,
        _pick("Billing_Frequency__c", "monthly", "quarterly", "annual"),
        _pick("Billing_Anchor__c", "start", "calendar"),
        _text("NetSuite_Subscription_Id__c"),
    ]),
    _object("Contract_Line__c", "a01", [
        _ref("Contract__c", "Contract", required=True),
        _ext("Line_Key__c"),
        _pick("Kind__c", "recurring_fee", "usage", "minimum_commitment", "prepaid_credit", "one_time"),
        _text("Product__c"),
        _text("Meter__c"),
        _money("Amount__c"),
        _pick("Timing__c", "in_advance", "in_arrears"),
        _pick("Revenue_Rule__c", "ratable_daily", "as_consumed", "point_in_time"),
        _pick("Price_Model__c", *PRICE_MODELS),
        _money("Unit_Price__c"),
        _num("Package_Size__c"),
        _money("Package_Price__c"),
        _num("Free_Units__c"),
        _num("Rate__c"),
        _money("Fixed_Fee__c"),
        _num("Free_Events__c"),
        _money("Free_Amount__c"),
        _money("Min_Per_Event__c"),
        _money("Max_Per_Event__c"),
        _num("Included_Quantity__c"),
        FieldDef("Applies_To__c", TEXTAREA, length=32768),
        _date("Purchase_Date__c"),
        _date("Expiry_Date__c"),
        _pick("Breakage__c", "at_expiry", "proportional"),
        _num("Expected_Breakage_Rate__c"),
        _date("Charge_Date__c"),
        _text("NetSuite_Subscription_Line_Id__c"),
    ]),
    _object("Price_Tier__c", "a02", [
        _ref("Contract_Line__c", "Contract_Line__c"),
        _ref("Amendment__c", "Amendment__c"),
        _num("Tier_Number__c", required=True),
        _num("Up_To__c"),
        _money("Unit_Price__c"),
        _money("Flat_Fee__c"),
        _num("Rate__c"),
    ]),
    _object("Amendment__c", "a03", [
        _ref("Contract__c", "Contract", required=True),
        _ref("Contract_Line__c", "Contract_Line__c"),
        _ext("Amendment_Key__c"),
        _pick("Type__c", "upgrade", "downgrade", "price_change", "cancellation"),
        _date("Effective_Date__c"),
        _pick("Status__c", "Pending", "Activated"),
        FieldDef("Cancel__c", BOOLEAN),
        _money("New_Amount__c"),
        _num("New_Included_Quantity__c"),
        _money("New_Unit_Price__c"),
        _pick("New_Price_Model__c", *PRICE_MODELS),
    ]),
    _object("Usage_Summary__c", "a04", [
        _ext("External_Id__c", unique=True),
        _ref("Account__c", "Account", required=True),
        _ref("Contract_Line__c", "Contract_Line__c"),
        _text("Meter__c", required=True),
        _date("Period_Start__c", required=True),
        _date("Period_End__c"),
        _num("Quantity__c"),
        _money("Amount__c"),
        CURRENCY_ISO_CODE,
        _text("Status__c"),
    ]),
    # One per prepaid credit block, written by the reverse ETL (sync_salesforce__credit_balances).
    _object("Credit_Balance__c", "a05", [
        _ext("External_Id__c", unique=True),
        _ref("Account__c", "Account", required=True),
        _text("Credit_Block_Id__c"),
        _money("Granted_Amount__c"),
        _money("Consumed_Amount__c"),
        _money("Remaining_Amount__c"),
        CURRENCY_ISO_CODE,
        _date("Expires_On__c"),
        _date("As_Of__c"),
    ]),
]}

_OBJECTS_BY_LOWER = {name.lower(): definition for name, definition in OBJECTS.items()}
_OBJECTS_BY_PREFIX = {definition.key_prefix: definition for definition in OBJECTS.values()}


def object_def(name: str) -> ObjectDef | None:
    return _OBJECTS_BY_LOWER.get(name.lower())


def object_for_prefix(prefix: str) -> ObjectDef | None:
    return _OBJECTS_BY_PREFIX.get(prefix)


# Values -----------------------------------------------------------------------------------------
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$")


def parse_date(text: str) -> date:
    if not isinstance(text, str) or not _DATE_RE.match(text):
        raise ValueError(text)
    return date.fromisoformat(text)


@lru_cache(maxsize=65536)
def _parse_datetime_cached(text: str) -> datetime:
    return _parse_datetime(text)


def parse_datetime(text: str) -> datetime:
    if not isinstance(text, str):
        raise ValueError(text)
    return _parse_datetime_cached(text)


def _parse_datetime(text: str) -> datetime:
    """ISO 8601 datetime; no zone means UTC (as Salesforce reads it)."""
    if not isinstance(text, str):
        raise ValueError(text)
    found = _DATETIME_RE.match(text.strip())
    if not found:
        raise ValueError(text)
    day, hour, minute, second, fraction, zone = found.groups()
    micro = int((fraction or ".0")[1:7].ljust(6, "0"))
    parsed = datetime(*map(int, day.split("-")), int(hour), int(minute), int(second or 0), micro)
    if zone in (None, "Z"):
        return parsed.replace(tzinfo=timezone.utc)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return parsed.replace(tzinfo=timezone(sign * offset))


def format_datetime(moment: datetime) -> str:
    """Salesforce's own datetime spelling: ``2026-10-01T12:00:00.000+0000`` (UTC)."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def _type_error(definition: FieldDef, value: Any, source: str) -> SalesforceError:
    if source == "csv":
        return SalesforceError(400, "INVALID_TYPE_ON_FIELD_IN_RECORD",
                               f"{definition.name}: value not of required type: {value}", [definition.name])
    return SalesforceError(400, "JSON_PARSER_ERROR",
                           f"Cannot deserialize instance of {definition.type} from value {value!r} "
                           f"for field {definition.name}", [definition.name])


def convert_value(definition: FieldDef, value: Any, source: str = "json") -> Any:
    """The stored form of ``value`` for ``definition``, or a SalesforceError.

    ``source`` is ``json`` (REST bodies and seed files: typed JSON values) or ``csv`` (Bulk API:
    every value a string). References are only checked for shape here; the store checks they exist.
    """
    kind = definition.type
    if value is None:
        return False if kind == BOOLEAN else None
    if kind in NUMERIC_TYPES:
        if source == "csv" and isinstance(value, str):
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                raise _type_error(definition, value, source) from None
            if not number.is_finite():
                raise _type_error(definition, value, source)
            return number
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise _type_error(definition, value, source)
        if isinstance(value, Decimal) and not value.is_finite():
            raise _type_error(definition, value, source)
        return Decimal(value)
    if kind == BOOLEAN:
        if source == "csv" and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            raise _type_error(definition, value, source)
        if not isinstance(value, bool):
            raise _type_error(definition, value, source)
        return value
    if kind == DATE:
        try:
            return parse_date(value).isoformat()
        except ValueError:
            raise _type_error(definition, value, source) from None
    if kind == DATETIME:
        try:
            return format_datetime(parse_datetime(value))
        except ValueError:
            raise _type_error(definition, value, source) from None
    # text-like
    if not isinstance(value, str):
        raise _type_error(definition, value, source)
    if definition.values and value not in definition.values:
        raise SalesforceError(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                              f"{definition.name}: bad value for restricted picklist field: {value}",
                              [definition.name])
    if definition.length and kind != REFERENCE and len(value) > definition.length:
        raise SalesforceError(400, "STRING_TOO_LONG",
                              f"{definition.name}: data value too large: {value[:40]}... "
                              f"(max length={definition.length})", [definition.name])
    if value == "":
        return None  # Salesforce stores an empty text value as null
    return value


def comparable(definition: FieldDef, value: Any) -> Any:
    """A stored value in a form that orders correctly (dates and datetimes as objects)."""
    if value is None:
        return None
    if definition.type == DATETIME:
        return parse_datetime(value)
    if definition.type == DATE:
        return parse_date(value)
    if definition.type in (STRING, TEXTAREA, PICKLIST) and isinstance(value, str):
        return value.casefold()
    return value
