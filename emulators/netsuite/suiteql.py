"""The SuiteQL subset meterledger uses: one-table SELECTs over views of the emulator's records.

Supported::

    SELECT [DISTINCT] * | COUNT(*) [AS a] | col [AS a], alias.col, alias.* ...
    FROM table [alias]
    [WHERE cond]          cond: col|literal op col|literal  (=, <>, !=, <, <=, >, >=),
                          col IS [NOT] NULL, col [NOT] IN (...), col [NOT] LIKE '...',
                          col [NOT] BETWEEN a AND b, NOT, AND, OR, parentheses
    [ORDER BY col|alias|position [ASC|DESC], ...]

Literals: 'text' ('' escapes a quote), numbers, NULL, TO_DATE('2026-01-01', 'YYYY-MM-DD') and
TO_TIMESTAMP(...). A plain string compared with a date column is read as a date
(``YYYY-MM-DD``, ``M/D/YYYY`` or ``YYYY-MM-DD HH:MM:SS``). NULL never compares true; NULLs sort
last ascending and first descending, as in Oracle.

Values come back as strings, as NetSuite returns them: integers and IDs as digits, numbers as
their exact decimal text, dates ``YYYY-MM-DD`` (ISO, not NetSuite's user-preference format),
timestamps ``YYYY-MM-DD HH:MM:SS`` (UTC), booleans ``T`` / ``F``. As in NetSuite, a column whose
value is NULL is left out of the row's object.

Tables: one per record type (columns = lower-cased REST field names, a reference holds the
referenced internal ID, plus ``id``, ``externalid``, ``lastmodifieddate``; sublists excluded),
``transaction`` (invoices ``CustInvc`` and journal entries ``Journal``), ``transactionline``
(their lines, ``id`` = line number within the transaction, no main line) and ``pricetiers``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from emulators.netsuite.errors import NetSuiteError
from emulators.netsuite.records import SPECS, RecordSpec
from emulators.netsuite.store import Store

Kind = str  # int | decimal | date | datetime | bool | str


def query_error(message: str) -> NetSuiteError:
    return NetSuiteError(400, "INVALID_PARAMETER",
                         "Invalid search query. Detailed unprocessed description follows. "
                         f"Search error occurred: {message}")


# Views ------------------------------------------------------------------------------------------

@dataclass
class Table:
    name: str
    columns: dict[str, Kind]
    rows: list[dict[str, Any]]
    _indexes: dict[str, dict[Any, list[tuple[int, dict[str, Any]]]]] = field(default_factory=dict, repr=False)

    def rows_with(self, column: str, values: set) -> list[dict[str, Any]]:
        """The rows whose ``column`` (in its kind) is one of ``values``, in table order, through
        an index built on first use (tables are cached per store version, so it is reused)."""
        index = self._indexes.get(column)
        if index is None:
            index = self._indexes[column] = {}
            kind = self.columns[column]
            for position, row in enumerate(self.rows):
                value = row.get(column)
                if value is not None:
                    # Text is its own key (an external ID): no conversion call per row.
                    key = value if kind == "str" and type(value) is str else _coerce(kind, value)
                    index.setdefault(key, []).append((position, row))
        found = [entry for value in values for entry in index.get(value, ())]
        return [row for _, row in sorted(found, key=lambda entry: entry[0])]


_FIELD_KINDS = {"str": "str", "enum": "str", "int": "int", "decimal": "decimal", "date": "date",
                "bool": "bool", "ref": "int", "refs": "str"}


def _id_value(value: Any) -> Any:
    text = str(value)
    return int(text) if text.isdigit() else text


def _typed(kind: str, value: Any) -> Any:
    """A stored value as the view holds it (comparable Python values)."""
    if value is None:
        return None
    if kind == "ref":
        return _id_value(value["id"])
    if kind == "refs":
        return ",".join(str(item["id"]) for item in value) or None
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "decimal":
        return value if isinstance(value, Decimal) else Decimal(str(value))
    return value


def _stamp(value: str | None) -> datetime | None:
    """``lastModifiedDate`` (ISO 8601, normally UTC with ``Z``) as a naive UTC timestamp to the second."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed.replace(microsecond=0)


def _custom_kind(value: Any) -> Kind:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, Decimal)):
        return "decimal"
    return "str"


def _custom(value: Any) -> Any:
    if isinstance(value, dict) and "id" in value:
        return _id_value(value["id"])
    if isinstance(value, (dict, list)):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def _record_table(store: Store, spec: RecordSpec) -> Table:
    columns: dict[str, Kind] = {"id": "int"}
    for name, field_spec in spec.fields.items():
        columns[name.lower()] = _FIELD_KINDS[field_spec.kind]
    columns["lastmodifieddate"] = "datetime"
    # Rows are kept per record with the stamp of the write that made them: a read-back that runs
    # while batches are still being written rebuilds only the rows written since, not 20,000.
    cached: dict[str, tuple[int, dict[str, Any], dict[str, Kind]]] = (
        store.__dict__.setdefault("_suiteql_rows", {}).setdefault(spec.name, {}))
    rows = []
    stamps = store.stamps(spec.name)
    for internal_id in store.ids(spec.name):
        stamp = stamps[internal_id]
        entry = cached.get(internal_id)
        if entry is None or entry[0] != stamp:
            entry = cached[internal_id] = (stamp, *_record_row(spec, store.get(spec.name, internal_id)))
        _, row, custom_columns = entry
        for name, kind in custom_columns.items():
            columns.setdefault(name, kind)
        rows.append(row)
    if len(cached) > 2 * len(rows) + 100:  # rows of deleted records
        live = set(store.ids(spec.name))
        for internal_id in [key for key in cached if key not in live]:
            del cached[internal_id]
    return Table(spec.name, columns, rows)


def _record_row(spec: RecordSpec, record: dict) -> tuple[dict[str, Any], dict[str, Kind]]:
    """One record as a view row, with the kinds of the custom fields it holds."""
    row: dict[str, Any] = {"id": _id_value(record["id"]), "lastmodifieddate": _stamp(record.get("lastModifiedDate"))}
    for name, field_spec in spec.fields.items():
        row[name.lower()] = _typed(field_spec.kind, record.get(name))
    custom_columns: dict[str, Kind] = {}
    for name, value in record.items():
        if spec.custom_prefixes and name.startswith(spec.custom_prefixes):
            custom_columns.setdefault(name.lower(), _custom_kind(value))
            row[name.lower()] = _custom(value)
    return row, custom_columns


TRANSACTION_COLUMNS: dict[str, Kind] = {
    "id": "int", "type": "str", "recordtype": "str", "tranid": "str", "trandate": "date",
    "postingperiod": "int", "entity": "int", "subsidiary": "int", "currency": "int", "subscription": "int",
    "memo": "str", "externalid": "str", "foreigntotal": "decimal", "lastmodifieddate": "datetime",
}
TRANSACTION_LINE_COLUMNS: dict[str, Kind] = {
    "transaction": "int", "id": "int", "linesequencenumber": "int", "mainline": "bool", "item": "int",
    "subscriptionline": "int", "usage": "str", "quantity": "decimal", "rate": "decimal",
    "netamount": "decimal", "foreignamount": "decimal", "debitforeignamount": "decimal",
    "creditforeignamount": "decimal", "account": "int", "entity": "int", "subsidiary": "int", "memo": "str",
    "department": "int", "class": "int", "location": "int",
}


def _ref(value: dict | None) -> Any:
    return None if value is None else _id_value(value["id"])


def _transaction_tables(store: Store) -> tuple[Table, Table]:
    heads: list[dict] = []
    lines: list[dict] = []
    line_columns = dict(TRANSACTION_LINE_COLUMNS)
    for record in store.all("invoice"):
        subscription = store.get("subscription", record["subscription"]["id"]) if record.get("subscription") else None
        customer = store.get("customer", record["entity"]["id"]) if record.get("entity") else None
        subsidiary = (subscription or {}).get("subsidiary") or (customer or {}).get("subsidiary")
        heads.append({
            "id": _id_value(record["id"]), "type": "CustInvc", "recordtype": "invoice",
            "tranid": record.get("tranId"), "trandate": _typed("date", record.get("tranDate")),
            "postingperiod": _ref(record.get("postingPeriod")), "entity": _ref(record.get("entity")),
            "subsidiary": _ref(subsidiary), "currency": _ref(record.get("currency")),
            "subscription": _ref(record.get("subscription")), "memo": record.get("memo"),
            "externalid": record.get("externalId"), "foreigntotal": record.get("total"),
            "lastmodifieddate": _stamp(record.get("lastModifiedDate")),
        })
        for number, line in enumerate((record.get("item") or {}).get("items", []), start=1):
            row = {
                "transaction": _id_value(record["id"]), "id": number, "linesequencenumber": number,
                "mainline": False, "item": _ref(line.get("item")),
                "subscriptionline": _ref(line.get("subscriptionLine")), "usage": _typed("refs", line.get("usage")),
                "quantity": line.get("quantity"), "rate": line.get("rate"), "netamount": line.get("amount"),
                "foreignamount": line.get("amount"), "debitforeignamount": None, "creditforeignamount": None,
                "account": None, "entity": _ref(record.get("entity")), "subsidiary": _ref(subsidiary),
                "memo": line.get("description"), "department": None, "class": None, "location": None,
            }
            _add_custom_columns(line, row, line_columns)
            lines.append(row)
    for record in store.all("journalentry"):
        items = (record.get("line") or {}).get("items", [])
        heads.append({
            "id": _id_value(record["id"]), "type": "Journal", "recordtype": "journalentry",
            "tranid": record.get("tranId"), "trandate": _typed("date", record.get("tranDate")),
            "postingperiod": _ref(record.get("postingPeriod")), "entity": None,
            "subsidiary": _ref(record.get("subsidiary")), "currency": _ref(record.get("currency")),
            "subscription": None, "memo": record.get("memo"), "externalid": record.get("externalId"),
            "foreigntotal": sum((line.get("debit") or Decimal(0) for line in items), Decimal(0)),
            "lastmodifieddate": _stamp(record.get("lastModifiedDate")),
        })
        for number, line in enumerate(items, start=1):
            debit, credit = line.get("debit"), line.get("credit")
            signed = debit if debit is not None else (-credit if credit is not None else None)
            row = {
                "transaction": _id_value(record["id"]), "id": number, "linesequencenumber": number,
                "mainline": False, "item": None, "subscriptionline": None, "usage": None, "quantity": None,
                "rate": None, "netamount": signed, "foreignamount": signed, "debitforeignamount": debit,
                "creditforeignamount": credit, "account": _ref(line.get("account")),
                "entity": _ref(line.get("entity")), "subsidiary": _ref(record.get("subsidiary")),
                "memo": line.get("memo"), "department": _ref(line.get("department")),
                "class": _ref(line.get("class")), "location": _ref(line.get("location")),
            }
            _add_custom_columns(line, row, line_columns)
            lines.append(row)
    heads.sort(key=lambda row: (isinstance(row["id"], str), row["id"]))
    return (Table("transaction", dict(TRANSACTION_COLUMNS), heads),
            Table("transactionline", line_columns, lines))


def _add_custom_columns(line: dict, row: dict, columns: dict[str, Kind]) -> None:
    for name, value in line.items():
        if name.startswith("custcol_"):
            columns.setdefault(name.lower(), _custom_kind(value))
            row[name.lower()] = _custom(value)


def _price_tiers(store: Store) -> Table:
    columns = {"priceplan": "int", "linenumber": "int", "fromval": "decimal", "toval": "decimal",
               "price": "decimal", "flatfee": "decimal"}
    rows = []
    for plan in store.all("priceplan"):
        for number, tier in enumerate((plan.get("priceTiers") or {}).get("items", []), start=1):
            rows.append({"priceplan": _id_value(plan["id"]), "linenumber": number,
                         "fromval": tier.get("fromVal"), "toval": tier.get("toVal"),
                         "price": tier.get("price"), "flatfee": tier.get("flatFee")})
    return Table("pricetiers", columns, rows)


def build_table(store: Store, name: str) -> Table:
    """The table of a query, built once per store version: read-backs that page through a large
    record type in many queries do not rebuild it each time (the rows are only read)."""
    cache = store.__dict__.setdefault("_suiteql_tables", {})
    if any(version != store.version for version, _ in cache):
        cache.clear()
    key = (store.version, name)
    if key not in cache:
        cache[key] = _build_table(store, name)
    return cache[key]


def _build_table(store: Store, name: str) -> Table:
    if name in SPECS:
        return _record_table(store, SPECS[name])
    if name in ("transaction", "transactionline"):
        head, lines = _transaction_tables(store)
        return head if name == "transaction" else lines
    if name == "pricetiers":
        return _price_tiers(store)
    raise query_error(f"Record '{name}' was not found.")


# Parsing ----------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:
    (?P<string>'(?:[^']|'')*')
  | (?P<number>\d+(?:\.\d+)?|\.\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_$]*(?:\.(?:[A-Za-z_][A-Za-z0-9_$]*|\*))?)
  | (?P<op><=|>=|<>|!=|=|<|>|\(|\)|,|\*|-|;)
)""", re.VERBOSE)

KEYWORDS = {"select", "distinct", "from", "where", "and", "or", "not", "is", "null", "in", "like",
            "between", "order", "by", "asc", "desc", "as", "join", "group", "having", "union", "on",
            "left", "right", "inner", "outer", "fetch", "offset", "limit"}


@dataclass(frozen=True)
class Token:
    kind: str  # string | number | ident | op | end
    text: str

    @property
    def word(self) -> str:
        return self.text.lower() if self.kind == "ident" else ""


def tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise query_error(f"Unexpected character at position {position}: {text[position:position + 10]!r}")
        kind = match.lastgroup
        tokens.append(Token(kind, match.group(kind)))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    tokens.append(Token("end", ""))
    return tokens


@dataclass(frozen=True)
class Column:
    name: str
    qualifier: str | None = None


@dataclass(frozen=True)
class Literal:
    value: Any  # str | Decimal | date | datetime | None


@dataclass(frozen=True)
class Condition:
    op: str  # cmp | isnull | in | like | between | and | or | not
    args: tuple
    negated: bool = False
    comparator: str = ""


@dataclass(frozen=True)
class SelectItem:
    column: Column | None  # None with star=True: all columns; None with count=True: COUNT(*)
    alias: str | None = None
    star: bool = False
    count: bool = False


@dataclass
class Query:
    items: list[SelectItem]
    distinct: bool
    table: str
    table_alias: str | None
    where: Condition | None
    order: list[tuple[Any, bool]]  # (Column | int position, descending)


class Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def accept(self, word: str) -> bool:
        token = self.current
        if (token.kind == "ident" and token.word == word) or (token.kind == "op" and token.text == word):
            self.index += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.accept(word):
            found = self.current.text or "end of query"
            raise query_error(f"Expected {word.upper()} but found {found!r}.")

    def parse(self) -> Query:
        if self.current.word != "select":
            raise query_error("Only SELECT statements are supported.")
        self.advance()
        distinct = self.accept("distinct")
        items = [self.select_item()]
        while self.accept(","):
            items.append(self.select_item())
        self.expect("from")
        table = self.identifier("table name")
        alias = None
        if self.current.kind == "ident" and self.current.word not in KEYWORDS:
            alias = self.advance().text.lower()
        where = None
        if self.accept("where"):
            where = self.condition()
        order: list[tuple[Any, bool]] = []
        if self.accept("order"):
            self.expect("by")
            while True:
                if self.current.kind == "number":
                    key: Any = int(self.advance().text)
                else:
                    key = self.column()
                descending = False
                if self.accept("desc"):
                    descending = True
                else:
                    self.accept("asc")
                order.append((key, descending))
                if not self.accept(","):
                    break
        self.accept(";")
        if self.current.kind != "end":
            raise query_error(f"Unsupported or unexpected {self.current.text!r} in the query.")
        return Query(items, distinct, table, alias, where, order)

    def identifier(self, what: str) -> str:
        token = self.current
        if token.kind != "ident" or token.word in KEYWORDS or "." in token.text:
            raise query_error(f"Expected a {what} but found {token.text or 'end of query'!r}.")
        self.advance()
        return token.text.lower()

    def column(self) -> Column:
        token = self.current
        if token.kind != "ident" or token.word in KEYWORDS or token.text.endswith(".*"):
            raise query_error(f"Expected a column but found {token.text or 'end of query'!r}.")
        self.advance()
        text = token.text.lower()
        if "." in text:
            qualifier, name = text.split(".", 1)
            return Column(name, qualifier)
        return Column(text)

    def select_item(self) -> SelectItem:
        token = self.current
        if token.kind == "op" and token.text == "*":
            self.advance()
            return SelectItem(None, star=True)
        if token.kind == "ident" and token.text.endswith(".*"):
            self.advance()
            return SelectItem(Column("*", token.text[:-2].lower()), star=True)
        if token.word == "count" and self.tokens[self.index + 1].text == "(":
            self.advance()
            self.expect("(")
            self.expect("*")
            self.expect(")")
            return SelectItem(None, alias=self.alias() or "count", count=True)
        return SelectItem(self.column(), alias=self.alias())

    def alias(self) -> str | None:
        if self.accept("as"):
            return self.identifier("column alias")
        if self.current.kind == "ident" and self.current.word not in KEYWORDS and "." not in self.current.text:
            return self.advance().text.lower()
        return None

    # cond := and_cond (OR and_cond)*
    def condition(self) -> Condition:
        parts = [self.and_condition()]
        while self.accept("or"):
            parts.append(self.and_condition())
        return parts[0] if len(parts) == 1 else Condition("or", tuple(parts))

    def and_condition(self) -> Condition:
        parts = [self.not_condition()]
        while self.accept("and"):
            parts.append(self.not_condition())
        return parts[0] if len(parts) == 1 else Condition("and", tuple(parts))

    def not_condition(self) -> Condition:
        if self.accept("not"):
            return Condition("not", (self.not_condition(),))
        return self.predicate()

    def predicate(self) -> Condition:
        if self.current.kind == "op" and self.current.text == "(":
            self.advance()
            inner = self.condition()
            self.expect(")")
            return inner
        left = self.operand()
        token = self.current
        if token.kind == "op" and token.text in ("=", "<>", "!=", "<", "<=", ">", ">="):
            self.advance()
            comparator = "<>" if token.text == "!=" else token.text
            return Condition("cmp", (left, self.operand()), comparator=comparator)
        if self.accept("is"):
            negated = self.accept("not")
            self.expect("null")
            return Condition("isnull", (left,), negated=negated)
        negated = self.accept("not")
        if self.accept("in"):
            self.expect("(")
            values = [self.operand()]
            while self.accept(","):
                values.append(self.operand())
            self.expect(")")
            return Condition("in", (left, tuple(values)), negated=negated)
        if self.accept("like"):
            return Condition("like", (left, self.operand()), negated=negated)
        if self.accept("between"):
            low = self.operand()
            self.expect("and")
            return Condition("between", (left, low, self.operand()), negated=negated)
        raise query_error(f"Expected a comparison but found {self.current.text or 'end of query'!r}.")

    def operand(self) -> Column | Literal:
        token = self.current
        if token.kind == "string":
            self.advance()
            return Literal(token.text[1:-1].replace("''", "'"))
        if token.kind == "number":
            self.advance()
            return Literal(Decimal(token.text))
        if token.kind == "op" and token.text == "-" and self.tokens[self.index + 1].kind == "number":
            self.advance()
            return Literal(-Decimal(self.advance().text))
        if token.word == "null":
            self.advance()
            return Literal(None)
        if token.word in ("to_date", "to_timestamp") and self.tokens[self.index + 1].text == "(":
            self.advance()
            self.expect("(")
            text = self.operand()
            fmt = None
            if self.accept(","):
                fmt = self.operand()
            self.expect(")")
            if not isinstance(text, Literal) or not isinstance(text.value, str) or (
                    fmt is not None and (not isinstance(fmt, Literal) or not isinstance(fmt.value, str))):
                raise query_error(f"{token.text.upper()} takes string literals.")
            return Literal(to_date(text.value, fmt.value if fmt else None))
        return self.column()


_FORMAT_PARTS = [("HH24", "%H"), ("YYYY", "%Y"), ("MM", "%m"), ("DD", "%d"), ("MI", "%M"), ("SS", "%S")]


def to_date(text: str, fmt: str | None) -> date | datetime:
    if fmt is None:
        return parse_temporal(text)
    pattern = fmt.upper()
    for oracle, python in _FORMAT_PARTS:
        pattern = pattern.replace(oracle, python)
    try:
        parsed = datetime.strptime(text, pattern)
    except ValueError:
        raise query_error(f"The date {text!r} does not match the format {fmt!r}.") from None
    return parsed if any(part in pattern for part in ("%H", "%M", "%S")) else parsed.date()


def parse_temporal(text: str) -> date | datetime:
    value = text.strip()
    for pattern, is_date in (("%Y-%m-%d", True), ("%m/%d/%Y", True), ("%Y-%m-%d %H:%M:%S", False),
                             ("%Y-%m-%dT%H:%M:%S", False), ("%Y-%m-%dT%H:%M:%SZ", False),
                             ("%m/%d/%Y %H:%M:%S", False)):
        try:
            parsed = datetime.strptime(value, pattern)
        except ValueError:
            continue
        return parsed.date() if is_date else parsed
    raise query_error(f"Invalid date or timestamp value {text!r}.")


# Evaluation -------------------------------------------------------------------------------------

class Evaluator:
    def __init__(self, table: Table, alias: str | None) -> None:
        self.table = table
        self.qualifiers = {table.name} | ({alias} if alias else set())
        self._in_sets: dict[int, set | None] = {}

    def kind_of(self, column: Column) -> Kind:
        if column.qualifier is not None and column.qualifier not in self.qualifiers:
            raise query_error(f"Unknown table alias '{column.qualifier}'.")
        kind = self.table.columns.get(column.name)
        if kind is None:
            raise query_error(f"Field '{column.name}' for record '{self.table.name}' was not found.")
        return kind

    def check(self, condition: Condition | None) -> None:
        """Name every unknown column before any row is read, even on an empty table."""
        if condition is None:
            return
        for arg in condition.args:
            for part in (arg if isinstance(arg, tuple) else (arg,)):
                if isinstance(part, Column):
                    self.kind_of(part)
                elif isinstance(part, Condition):
                    self.check(part)

    def truth(self, condition: Condition, row: dict) -> bool | None:
        op = condition.op
        if op == "and":
            results = [self.truth(part, row) for part in condition.args]
            return False if False in results else (None if None in results else True)
        if op == "or":
            results = [self.truth(part, row) for part in condition.args]
            return True if True in results else (None if None in results else False)
        if op == "not":
            inner = self.truth(condition.args[0], row)
            return None if inner is None else not inner
        if op == "isnull":
            value = self.value(condition.args[0], row)[1]
            return (value is not None) if condition.negated else (value is None)
        if op == "cmp":
            result = self.compare(condition.args[0], condition.args[1], row)
            if result is None:
                return None
            return {"=": result == 0, "<>": result != 0, "<": result < 0, "<=": result <= 0,
                    ">": result > 0, ">=": result >= 0}[condition.comparator]
        if op == "in":
            left, options = condition.args
            members = self.literal_set(condition)
            if members is not None:
                value = row.get(left.name)
                found = None if value is None else _coerce(self.kind_of(left), value) in members
            else:
                results = [self.compare(left, option, row) for option in options]
                found = True if 0 in results else (None if None in results else False)
        elif op == "between":
            left, low, high = condition.args
            above, below = self.compare(left, low, row), self.compare(left, high, row)
            found = None if above is None or below is None else (above >= 0 and below <= 0)
        elif op == "like":
            kind, value = self.value(condition.args[0], row)
            pattern = self.value(condition.args[1], row)[1]
            if value is None or pattern is None:
                return None
            regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in str(pattern))
            found = re.fullmatch(regex, _text(kind, value), re.DOTALL) is not None
        else:
            raise AssertionError(op)
        if found is None:
            return None
        return (not found) if condition.negated else found

    def literal_set(self, condition: Condition) -> set | None:
        """``col IN (literal, ...)`` as a set of the literals in the column's kind, built once per
        query: a read-back of 1,000 external IDs over a large table is then one lookup a row,
        not 1,000 comparisons (the same answers: no literal is NULL, so there is no unknown)."""
        key = id(condition)
        if key not in self._in_sets:
            left, options = condition.args
            literal = isinstance(left, Column) and all(
                isinstance(option, Literal) and option.value is not None for option in options)
            self._in_sets[key] = ({_coerce(self.kind_of(left), option.value) for option in options}
                                  if literal else None)
        return self._in_sets[key]

    def value(self, operand: Column | Literal, row: dict) -> tuple[Kind | None, Any]:
        if isinstance(operand, Column):
            return self.kind_of(operand), row.get(operand.name)
        return None, operand.value

    def compare(self, left: Column | Literal, right: Column | Literal, row: dict) -> int | None:
        left_kind, left_value = self.value(left, row)
        right_kind, right_value = self.value(right, row)
        if left_value is None or right_value is None:
            return None
        kind = left_kind or right_kind or _literal_kind(left_value)
        a, b = _coerce(kind, left_value), _coerce(kind, right_value)
        try:
            return (a > b) - (a < b)
        except TypeError:
            raise query_error(f"Cannot compare {left_value!r} with {right_value!r}.") from None


def _literal_kind(value: Any) -> Kind:
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, Decimal):
        return "decimal"
    return "str"


def _coerce(kind: Kind, value: Any) -> Any:
    if kind in ("int", "decimal"):
        if isinstance(value, bool):
            raise query_error(f"Invalid number {value!r}.")
        if isinstance(value, (int, Decimal)):
            return Decimal(value)
        try:
            return Decimal(str(value).strip())
        except InvalidOperation:
            if kind == "int":  # non-numeric internal IDs compare as text
                return str(value)
            raise query_error(f"Invalid number {value!r}.") from None
    if kind in ("date", "datetime"):
        if isinstance(value, str):
            value = parse_temporal(value)
        if isinstance(value, datetime):
            return value
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day)
        raise query_error(f"Invalid date value {value!r}.")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().upper()
        if text in ("T", "TRUE"):
            return True
        if text in ("F", "FALSE"):
            return False
        raise query_error(f"Invalid boolean value {value!r}; use 'T' or 'F'.")
    return _text(None, value)


def _text(kind: Kind | None, value: Any) -> str:
    """A value as SuiteQL returns it."""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _sort_key(value: Any) -> tuple:
    if value is None:
        return (1, 0, "")
    if isinstance(value, bool):
        return (0, 0, int(value))
    if isinstance(value, (int, Decimal)):
        return (0, 0, Decimal(value))
    if isinstance(value, date) and not isinstance(value, datetime):
        return (0, 0, datetime(value.year, value.month, value.day))
    if isinstance(value, (datetime, str)):
        return (0, 0 if isinstance(value, datetime) else 1, value)
    return (0, 2, str(value))


def execute(store: Store, text: str) -> list[dict[str, str]]:
    """Run a query; every row of the result, values as strings, NULL columns left out."""
    if not isinstance(text, str) or not text.strip():
        raise query_error("The query is empty.")
    query = Parser(text).parse()
    with store.lock:
        table = build_table(store, query.table)
    evaluator = Evaluator(table, query.table_alias)
    evaluator.check(query.where)

    # The output columns: (output name, source column)
    outputs: list[tuple[str, str]] = []
    counting = any(item.count for item in query.items)
    if counting and len(query.items) > 1:
        raise query_error("COUNT(*) cannot be combined with other columns without GROUP BY.")
    for item in query.items:
        if item.star:
            if item.column is not None:
                if item.column.qualifier not in evaluator.qualifiers:
                    raise query_error(f"Unknown table alias '{item.column.qualifier}'.")
            outputs.extend((name, name) for name in table.columns)
        elif not item.count:
            evaluator.kind_of(item.column)
            outputs.append((item.alias or item.column.name, item.column.name))

    candidates = table.rows
    if query.where is not None and query.where.op == "in" and not query.where.negated:
        members = evaluator.literal_set(query.where)
        if members is not None:  # `col IN (literals)`: only the rows the index names can match
            candidates = table.rows_with(query.where.args[0].name, members)
    rows = [row for row in candidates if query.where is None or evaluator.truth(query.where, row) is True]
    if counting:
        return [{query.items[0].alias: str(len(rows))}]

    aliases = {output: source for output, source in outputs}
    for key, descending in reversed(query.order):
        if isinstance(key, int):
            if not 1 <= key <= len(outputs):
                raise query_error(f"ORDER BY position {key} is out of range.")
            source = outputs[key - 1][1]
        elif key.qualifier is None and key.name in aliases and key.name not in table.columns:
            source = aliases[key.name]
        else:
            evaluator.kind_of(key)
            source = key.name
        present = [row for row in rows if row.get(source) is not None]
        missing = [row for row in rows if row.get(source) is None]
        present.sort(key=lambda row: _sort_key(row.get(source)), reverse=descending)
        rows = present + missing if not descending else missing + present

    result: list[dict[str, str]] = []
    seen: set[tuple] = set()
    for row in rows:
        item = {output: _text(table.columns[source], row[source])
                for output, source in outputs if row.get(source) is not None}
        if query.distinct:
            signature = tuple(sorted(item.items()))
            if signature in seen:
                continue
            seen.add(signature)
        result.append(item)
    return result
