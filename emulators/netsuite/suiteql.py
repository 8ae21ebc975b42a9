"""The SuiteQL subset meterledger uses: SELECTs over views of the emulator's records, one table
or several joined.

Supported::

    SELECT [DISTINCT] * | COUNT(*) [AS a] | col [AS a], alias.col, alias.* ...
    FROM table [alias]
    [[INNER] JOIN table [alias] ON col = col] ...
    [WHERE cond]          cond: col|literal op col|literal  (=, <>, !=, <, <=, >, >=),
                          col IS [NOT] NULL, col [NOT] IN (...), col [NOT] LIKE '...',
                          col [NOT] BETWEEN a AND b, NOT, AND, OR, parentheses
    [ORDER BY col|alias|position [ASC|DESC], ...]

Joins are inner joins, each ON one equality between a column of the joined table and one of a
table before it (LEFT / RIGHT / OUTER joins and ``FROM a, b`` are refused). Columns may be
qualified (``alias.col`` or ``table.col``) anywhere; an unqualified one must be in exactly one of
the tables, else "Column 'x' ambiguously defined." (Oracle's ORA-00918; NetSuite's wording is
assumed), and ``*`` is refused over tables sharing a column name (a row object holds one ``id``).
Output names are the column alias when given, else the column name. Conditions ANDed at the top
of the WHERE that read one table filter it before the join (``col IN (literals)`` through the
column's index), and each join looks its rows up by a hash of the ON column, so reading back 1,000
journal entries with their lines reads only those entries and lines. Rows come in the first
table's order, each followed by its matches in their table's order.

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
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Sequence

from emulators.netsuite.errors import NetSuiteError
from emulators.netsuite.records import SPECS, RecordSpec
from emulators.netsuite.store import Store

Kind = str  # int | decimal | date | datetime | bool | str
Resolved = tuple[int, str, Kind]  # a column: its table's position in the FROM list, its name, its kind


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

    def index(self, column: str) -> dict[Any, list[tuple[int, dict[str, Any]]]]:
        """``column``'s values (``_index_key``) to the rows holding them with their positions, in
        table order; built on first use (tables are cached per store version, so it is reused)."""
        index = self._indexes.get(column)
        if index is None:
            index = self._indexes[column] = _index_rows(self.columns[column], column, self.rows)
        return index

    def rows_with(self, column: str, values: set) -> list[dict[str, Any]]:
        """The rows whose ``column`` (in its kind) is one of ``values``, in table order."""
        index = self.index(column)
        found = [entry for value in values for entry in index.get(value, ())]
        return [row for _, row in sorted(found, key=lambda entry: entry[0])]


def _index_key(kind: Kind, value: Any) -> Any:
    # Text is its own key (an external ID): no conversion call per row.
    return value if kind == "str" and type(value) is str else _coerce(kind, value)


def _index_rows(kind: Kind, column: str, rows: list[dict[str, Any]]) -> dict[Any, list[tuple[int, dict]]]:
    index: dict[Any, list[tuple[int, dict]]] = {}
    for position, row in enumerate(rows):
        value = row.get(column)
        if value is not None:
            index.setdefault(_index_key(kind, value), []).append((position, row))
    return index


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
        if name in ("transaction", "transactionline"):
            # One pass makes both: a join of the two builds them once.
            cache[(store.version, "transaction")], cache[(store.version, "transactionline")] = (
                _transaction_tables(store))
        else:
            cache[key] = _build_table(store, name)
    return cache[key]


def _build_table(store: Store, name: str) -> Table:
    if name in SPECS:
        return _record_table(store, SPECS[name])
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


@dataclass(frozen=True)
class Source:
    table: str
    alias: str | None
    on: tuple[Column, Column] | None = None  # a joined table's ON equality; None for the first


@dataclass
class Query:
    items: list[SelectItem]
    distinct: bool
    sources: list[Source]  # the FROM table, then each joined one
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
        sources = [Source(*self.table())]
        while self.current.word in ("inner", "join"):
            self.accept("inner")
            self.expect("join")
            table, alias = self.table()
            self.expect("on")
            left = self.column()
            self.expect("=")
            sources.append(Source(table, alias, (left, self.column())))
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
        return Query(items, distinct, sources, where, order)

    def table(self) -> tuple[str, str | None]:
        name = self.identifier("table name")
        alias = None
        if self.current.kind == "ident" and self.current.word not in KEYWORDS:
            alias = self.advance().text.lower()
        return name, alias

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
    """Conditions over joined rows: a row is a sequence holding one view row per table of the
    FROM list, and a column reads the row of the table it resolves to."""

    def __init__(self, tables: list[Table], sources: list[Source]) -> None:
        self.tables = tables
        self.qualifiers: dict[str, list[int]] = {}  # table name or alias -> positions in the FROM list
        for position, (table, source) in enumerate(zip(tables, sources)):
            for qualifier in dict.fromkeys(name for name in (table.name, source.alias) if name):
                self.qualifiers.setdefault(qualifier, []).append(position)
        self._columns: dict[Column, Resolved] = {}
        self._in_sets: dict[int, set | None] = {}

    def table_of(self, qualifier: str) -> int:
        positions = self.qualifiers.get(qualifier, [])
        if not positions:
            raise query_error(f"Unknown table alias '{qualifier}'.")
        if len(positions) > 1:
            raise query_error(f"Table alias '{qualifier}' ambiguously defined.")
        return positions[0]

    def owners(self, name: str) -> list[int]:
        """The positions of the tables that have a column ``name``."""
        return [position for position, table in enumerate(self.tables) if name in table.columns]

    def resolve(self, column: Column) -> Resolved:
        """The table a column reads (its position in the FROM list), its name and its kind."""
        resolved = self._columns.get(column)
        if resolved is None:
            if column.qualifier is not None:
                position = self.table_of(column.qualifier)
                if column.name not in self.tables[position].columns:
                    raise query_error(f"Field '{column.name}' for record '{self.tables[position].name}' "
                                      "was not found.")
            else:
                owners = self.owners(column.name)
                if not owners:
                    names = "' or '".join(table.name for table in self.tables)
                    raise query_error(f"Field '{column.name}' for record '{names}' was not found.")
                if len(owners) > 1:
                    raise query_error(f"Column '{column.name}' ambiguously defined.")
                position = owners[0]
            resolved = self._columns[column] = (position, column.name, self.tables[position].columns[column.name])
        return resolved

    def kind_of(self, column: Column) -> Kind:
        return self.resolve(column)[2]

    def tables_read(self, condition: Condition) -> set[int]:
        """The tables a condition reads. Every column is resolved, so an unknown one is named
        before any row is read, even on an empty table."""
        read: set[int] = set()
        for arg in condition.args:
            for part in (arg if isinstance(arg, tuple) else (arg,)):
                if isinstance(part, Column):
                    read.add(self.resolve(part)[0])
                elif isinstance(part, Condition):
                    read |= self.tables_read(part)
        return read

    def candidates(self, position: int, conditions: list[Condition]) -> list[dict[str, Any]]:
        """The rows of one table that pass ``conditions`` (which read only that table)."""
        table = self.tables[position]
        rows = table.rows
        for condition in conditions:
            if condition.op == "in" and not condition.negated:
                members = self.literal_set(condition)
                if members is not None:  # `col IN (literals)`: only the rows the index names can match
                    rows = table.rows_with(self.resolve(condition.args[0])[1], members)
                    break
        if not conditions:
            return rows
        probe: list[dict | None] = [None] * len(self.tables)
        kept: list[dict[str, Any]] = []
        for row in rows:
            probe[position] = row
            if all(self.truth(condition, probe) is True for condition in conditions):
                kept.append(row)
        return kept

    def join(self, sources: list[Source], candidates: list[list[dict]],
             filtered: list[bool]) -> list[tuple[dict, ...]]:
        """The candidate rows of each table joined in FROM order, each joined table looked up by
        its ON column: through the table's cached index when no condition filtered it, else
        through a hash of its candidates. Rows keep the order of the rows they extend."""
        rows: list[tuple[dict, ...]] = [(row,) for row in candidates[0]]
        for position in range(1, len(sources)):
            (theirs, their_name, _), (_, name, kind) = self._on(position, sources[position].on)
            lookup = (_index_rows(kind, name, candidates[position]) if filtered[position]
                      else self.tables[position].index(name))
            joined = []
            for row in rows:
                value = row[theirs].get(their_name)
                if value is not None:
                    joined.extend((*row, match) for _, match in lookup.get(_index_key(kind, value), ()))
            rows = joined
        return rows

    def _on(self, position: int, on: tuple[Column, Column]) -> tuple[Resolved, Resolved]:
        """The ON equality of a joined table: (column of a table before it, its own column)."""
        earlier, own = (self.resolve(column) for column in on)
        if own[0] != position:
            earlier, own = own, earlier
        if own[0] != position or earlier[0] >= position:
            raise query_error(f"The ON condition of '{self.tables[position].name}' must compare one of its "
                              "columns with a column of a table joined before it.")
        return earlier, own

    def truth(self, condition: Condition, row: Sequence[dict]) -> bool | None:
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
                position, name, kind = self.resolve(left)
                value = row[position].get(name)
                found = None if value is None else _coerce(kind, value) in members
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

    def value(self, operand: Column | Literal, row: Sequence[dict]) -> tuple[Kind | None, Any]:
        if isinstance(operand, Column):
            position, name, kind = self.resolve(operand)
            return kind, row[position].get(name)
        return None, operand.value

    def compare(self, left: Column | Literal, right: Column | Literal, row: Sequence[dict]) -> int | None:
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
        tables = [build_table(store, source.table) for source in query.sources]
    evaluator = Evaluator(tables, query.sources)
    # The conditions ANDed at the top that read one table filter it before the join.
    filters: list[list[Condition]] = [[] for _ in tables]
    after_join: list[Condition] = []
    for condition in _conjuncts(query.where):
        read = evaluator.tables_read(condition)
        (filters[read.pop()] if len(read) == 1 else after_join).append(condition)

    # The output columns: (output name, table position, column)
    outputs: list[tuple[str, int, str]] = []
    counting = any(item.count for item in query.items)
    if counting and len(query.items) > 1:
        raise query_error("COUNT(*) cannot be combined with other columns without GROUP BY.")
    for item in query.items:
        if item.star:
            positions = (range(len(tables)) if item.column is None
                         else [evaluator.table_of(item.column.qualifier)])
            columns = [(name, position, name) for position in positions for name in tables[position].columns]
            shared = [name for name, count in Counter(name for name, _, _ in columns).items() if count > 1]
            if shared:
                raise query_error(f"Column '{shared[0]}' ambiguously defined.")
            outputs.extend(columns)
        elif not item.count:
            position, name, _ = evaluator.resolve(item.column)
            outputs.append((item.alias or name, position, name))

    candidates = [evaluator.candidates(position, conditions) for position, conditions in enumerate(filters)]
    rows = evaluator.join(query.sources, candidates, [bool(conditions) for conditions in filters])
    if after_join:
        rows = [row for row in rows if all(evaluator.truth(condition, row) is True for condition in after_join)]
    if counting:
        return [{query.items[0].alias: str(len(rows))}]

    aliases = {output: (position, name) for output, position, name in outputs}
    for key, descending in reversed(query.order):
        if isinstance(key, int):
            if not 1 <= key <= len(outputs):
                raise query_error(f"ORDER BY position {key} is out of range.")
            position, name = outputs[key - 1][1:]
        elif key.qualifier is None and key.name in aliases and len(evaluator.owners(key.name)) != 1:
            position, name = aliases[key.name]
        else:
            position, name = evaluator.resolve(key)[:2]
        present = [row for row in rows if row[position].get(name) is not None]
        missing = [row for row in rows if row[position].get(name) is None]
        present.sort(key=lambda row: _sort_key(row[position].get(name)), reverse=descending)
        rows = present + missing if not descending else missing + present

    result: list[dict[str, str]] = []
    seen: set[tuple] = set()
    for row in rows:
        item = {output: _text(tables[position].columns[name], row[position][name])
                for output, position, name in outputs if row[position].get(name) is not None}
        if query.distinct:
            signature = tuple(sorted(item.items()))
            if signature in seen:
                continue
            seen.add(signature)
        result.append(item)
    return result


def _conjuncts(condition: Condition | None) -> list[Condition]:
    """The conditions ANDed at the top of a WHERE."""
    if condition is None:
        return []
    if condition.op == "and":
        return [part for arg in condition.args for part in _conjuncts(arg)]
    return [condition]
