"""The SOQL subset meterledger uses, parsed and run against the store.

    SELECT field, field, Parent__r.Field | COUNT()
    FROM Object
    [WHERE condition]          -- =, !=, <>, <, <=, >, >=, [NOT] IN (...), LIKE, AND, OR, NOT, ( )
    [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...]
    [LIMIT n] [OFFSET n]

Literals: 'strings' (backslash escapes), numbers, true/false/null, dates ``2026-01-01`` and
datetimes ``2026-01-01T00:00:00Z`` / ``2026-01-01T00:00:00.000+02:00`` unquoted (the zone is
required and has a colon: ``+0000``, Salesforce's own output spelling, is refused as in SOQL). A literal must suit its field's type
(a date field takes a date, a datetime field a datetime, a text field a quoted string), as in
Salesforce. Text comparisons ignore case; AND and OR cannot be mixed without parentheses.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from emulators.salesforce import ids
from emulators.salesforce.errors import SalesforceError, invalid_field, malformed_query
from emulators.salesforce.schema import (
    BOOLEAN, DATE, DATETIME, ID, NUMERIC_TYPES, REFERENCE, FieldDef, ObjectDef, comparable, object_def,
    parse_date, parse_datetime,
)

_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})(?![\dT])
  | (?P<number>[+-]?\d+(?:\.\d+)?)(?![\w.])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
""", re.VERBOSE)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\",
            "_": "\\_", "%": "\\%"}
KEYWORDS = {"select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "asc", "desc",
            "nulls", "first", "last", "limit", "offset", "true", "false", "null"}


@dataclass
class Token:
    kind: str
    text: str
    value: Any = None

    @property
    def keyword(self) -> str | None:
        return self.text.lower() if self.kind == "ident" and self.text.lower() in KEYWORDS else None


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        found = _TOKEN_RE.match(text, position)
        if not found:
            raise malformed_query(f"unexpected token: '{text[position:position + 20]}'")
        position = found.end()
        kind = found.lastgroup
        raw = found.group()
        if kind == "ws":
            continue
        if kind == "string":
            body = raw[1:-1]
            value = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)
            tokens.append(Token("string", raw, value))
        elif kind == "number":
            tokens.append(Token("number", raw, Decimal(raw)))
        elif kind == "date":
            try:
                tokens.append(Token("date", raw, parse_date(raw)))
            except ValueError:
                raise malformed_query(f"invalid date: {raw}") from None
        elif kind == "datetime":
            try:
                tokens.append(Token("datetime", raw, parse_datetime(raw)))
            except ValueError:
                raise malformed_query(f"invalid datetime: {raw}") from None
        else:
            tokens.append(Token(kind, raw))
    return tokens


# Query model -----------------------------------------------------------------------------------
@dataclass
class FieldPath:
    text: str
    hops: list[FieldDef]      # reference fields followed, in order
    field: FieldDef           # the field read at the end
    names: list[str]          # declared spelling: relationship names then the field name


@dataclass
class Literal:
    kind: str                 # string / number / date / datetime / boolean / null
    value: Any
    text: str


@dataclass
class Condition:
    op: str                   # and / or / not / cmp / in / like
    children: list["Condition"] = field(default_factory=list)
    path: FieldPath | None = None
    operator: str = ""
    literals: list[Literal] = field(default_factory=list)
    negate: bool = False
    grouped: bool = False     # written in parentheses (may then mix with AND / OR)


@dataclass
class OrderItem:
    path: FieldPath
    descending: bool
    nulls_first: bool


@dataclass
class Query:
    object: ObjectDef
    fields: list[FieldPath] | None          # None: SELECT COUNT()
    where: Condition | None
    order: list[OrderItem]
    limit: int | None
    offset: int


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.position = 0

    # token helpers
    def peek(self, ahead: int = 0) -> Token | None:
        index = self.position + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise malformed_query("unexpected end of query")
        self.position += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.keyword in words

    def expect_keyword(self, word: str) -> None:
        token = self.next()
        if token.keyword != word:
            raise malformed_query(f"unexpected token: '{token.text}' (expecting {word.upper()})")

    def expect_punct(self, char: str) -> None:
        token = self.next()
        if token.text != char:
            raise malformed_query(f"unexpected token: '{token.text}' (expecting '{char}')")

    # grammar
    def parse(self) -> Query:
        self.expect_keyword("select")
        raw_fields: list[str] | None = []
        token = self.peek()
        if token is not None and token.kind == "ident" and token.text.lower() == "count" \
                and self.peek(1) is not None and self.peek(1).text == "(":
            self.position += 2
            self.expect_punct(")")
            raw_fields = None
        else:
            while True:
                token = self.next()
                if token.kind != "ident" or token.keyword:
                    raise malformed_query(f"unexpected token: '{token.text}'")
                if self.peek() is not None and self.peek().text == "(":
                    raise malformed_query(f"unsupported function in SELECT: {token.text}()")
                raw_fields.append(token.text)
                if self.peek() is not None and self.peek().text == ",":
                    self.position += 1
                    continue
                break
        self.expect_keyword("from")
        token = self.next()
        if token.kind != "ident" or token.keyword or "." in token.text:
            raise malformed_query(f"unexpected token: '{token.text}'")
        definition = object_def(token.text)
        if definition is None:
            raise SalesforceError(400, "INVALID_TYPE",
                                  f"sObject type '{token.text}' is not supported. If you are attempting to use a "
                                  "custom object, be sure to append the '__c' after the entity name.")
        self.object = definition
        fields = None
        if raw_fields is not None:
            fields = [resolve_path(definition, name) for name in raw_fields]
            seen = set()
            for path in fields:
                key = ".".join(path.names).lower()
                if key in seen:
                    raise malformed_query(f"duplicate field selected: {path.text}")
                seen.add(key)
        where = None
        if self.at_keyword("where"):
            self.position += 1
            where = self.condition()
        order: list[OrderItem] = []
        if self.at_keyword("order"):
            self.position += 1
            self.expect_keyword("by")
            while True:
                token = self.next()
                if token.kind != "ident" or token.keyword:
                    raise malformed_query(f"unexpected token: '{token.text}'")
                path = resolve_path(definition, token.text)
                descending = False
                if self.at_keyword("asc", "desc"):
                    descending = self.next().keyword == "desc"
                nulls_first = True
                if self.at_keyword("nulls"):
                    self.position += 1
                    word = self.next()
                    if word.keyword not in ("first", "last"):
                        raise malformed_query(f"unexpected token: '{word.text}' (expecting FIRST or LAST)")
                    nulls_first = word.keyword == "first"
                order.append(OrderItem(path, descending, nulls_first))
                if self.peek() is not None and self.peek().text == ",":
                    self.position += 1
                    continue
                break
        limit = None
        offset = 0
        if self.at_keyword("limit"):
            self.position += 1
            limit = self.integer("LIMIT")
        if self.at_keyword("offset"):
            self.position += 1
            offset = self.integer("OFFSET")
        token = self.peek()
        if token is not None:
            raise malformed_query(f"unexpected token: '{token.text}'")
        return Query(definition, fields, where, order, limit, offset)

    def integer(self, clause: str) -> int:
        token = self.next()
        if token.kind != "number" or token.value != token.value.to_integral_value() or token.value < 0:
            raise malformed_query(f"{clause} must be a non-negative integer, not '{token.text}'")
        return int(token.value)

    def condition(self) -> Condition:
        terms = [self.conjunction()]
        while self.at_keyword("or"):
            self.position += 1
            terms.append(self.conjunction())
        if len(terms) == 1:
            return terms[0]
        if any(term.op == "and" and not term.grouped for term in terms):
            raise malformed_query("unexpected token: 'OR' (AND and OR need parentheses to be combined)")
        return Condition("or", terms)

    def conjunction(self) -> Condition:
        terms = [self.negation()]
        while self.at_keyword("and"):
            self.position += 1
            terms.append(self.negation())
        if len(terms) == 1:
            return terms[0]
        if any(term.op == "or" and not term.grouped for term in terms):
            raise malformed_query("unexpected token: 'AND' (AND and OR need parentheses to be combined)")
        return Condition("and", terms)

    def negation(self) -> Condition:
        if self.at_keyword("not"):
            self.position += 1
            inner = self.negation()
            return Condition("not", [inner])
        return self.primary()

    def primary(self) -> Condition:
        token = self.peek()
        if token is not None and token.text == "(":
            self.position += 1
            inner = self.condition()
            self.expect_punct(")")
            inner.grouped = True
            return inner
        token = self.next()
        if token.kind != "ident" or token.keyword:
            raise malformed_query(f"unexpected token: '{token.text}'")
        path = resolve_path(self.object, token.text)
        operator = self.next()
        if operator.kind == "op":
            literal = self.literal()
            check_literal(path, literal)
            op = "!=" if operator.text == "<>" else operator.text
            if literal.kind == "null" and op not in ("=", "!="):
                raise malformed_query(f"null can only be compared with = or !=, not {op}")
            return Condition("cmp", path=path, operator=op, literals=[literal])
        negate = False
        if operator.keyword == "not":
            negate = True
            operator = self.next()
        if operator.keyword == "in":
            self.expect_punct("(")
            literals = [self.literal()]
            while self.peek() is not None and self.peek().text == ",":
                self.position += 1
                literals.append(self.literal())
            self.expect_punct(")")
            for literal in literals:
                check_literal(path, literal)
            return Condition("in", path=path, literals=literals, negate=negate)
        if operator.keyword == "like" and not negate:
            literal = self.literal()
            if literal.kind != "string" or path.field.type in NUMERIC_TYPES + (DATE, DATETIME, BOOLEAN):
                raise invalid_field(f"invalid operator on field {path.text}: LIKE needs a text field and a "
                                    "quoted pattern")
            return Condition("like", path=path, literals=[literal])
        raise malformed_query(f"unexpected token: '{operator.text}'")

    def literal(self) -> Literal:
        token = self.next()
        if token.kind in ("string", "number", "date", "datetime"):
            return Literal(token.kind, token.value, token.text)
        if token.keyword in ("true", "false"):
            return Literal("boolean", token.keyword == "true", token.text)
        if token.keyword == "null":
            return Literal("null", None, token.text)
        raise malformed_query(f"unexpected token: '{token.text}' (expecting a value)")


def resolve_path(definition: ObjectDef, text: str) -> FieldPath:
    parts = text.split(".")
    if len(parts) > 1 and parts[0].lower() == definition.name.lower():
        parts = parts[1:]  # SELECT Account.Name FROM Account
    hops: list[FieldDef] = []
    names: list[str] = []
    current = definition
    for relation_name in parts[:-1]:
        relation = current.relationship(relation_name)
        if relation is None:
            raise invalid_field(
                f"Didn't understand relationship '{relation_name}' in field path '{text}'. If you are attempting "
                "to use a custom relationship, be sure to append the '__r' after the custom relationship name.")
        hops.append(relation)
        names.append(relation.relationship_name or relation_name)
        current = object_def(relation.reference_to or "")  # type: ignore[assignment]
    final = current.field(parts[-1])
    if final is None:
        raise invalid_field(
            f"No such column '{parts[-1]}' on entity '{current.name}'. If you are attempting to use a custom "
            "field, be sure to append the '__c' after the custom field name. Please reference your WSDL or "
            "the describe call for the appropriate names.")
    names.append(final.name)
    return FieldPath(text, hops, final, names)


def check_literal(path: FieldPath, literal: Literal) -> None:
    kind = path.field.type
    if literal.kind == "null":
        return
    expected = ("boolean" if kind == BOOLEAN else "number" if kind in NUMERIC_TYPES else
                "date" if kind == DATE else "datetime" if kind == DATETIME else "string")
    if literal.kind == expected:
        return
    quoted = "should be enclosed in quotes" if expected == "string" else "should not be enclosed in quotes"
    raise invalid_field(
        f"value of filter criterion for field '{path.text}' must be of type {expected} and {quoted}")


def parse(text: str) -> Query:
    if not text or not text.strip():
        raise malformed_query("empty query")
    return _Parser(text).parse()


# Running ----------------------------------------------------------------------------------------
def _literal_value(path: FieldPath, literal: Literal) -> Any:
    kind = path.field.type
    if literal.kind == "null":
        return None
    if kind in (ID, REFERENCE):
        return ids.to_18(literal.value) or literal.value
    if literal.kind == "string":
        return literal.value.casefold()
    return literal.value


def _like_regex(pattern: str) -> re.Pattern[str]:
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("^" + "".join(out) + "$", re.DOTALL)


class Runner:
    """Evaluates a parsed query over the store's tables (call with the store lock held)."""

    def __init__(self, store, version: str) -> None:
        self.store = store
        self.version = version

    def raw_value(self, record: dict | None, path: FieldPath) -> Any:
        for hop in path.hops:
            if record is None:
                return None
            target_id = record.get(hop.name)
            record = self.store.tables[hop.reference_to].get(target_id) if target_id else None
        return None if record is None else record.get(path.field.name)

    def value(self, record: dict, path: FieldPath) -> Any:
        return comparable(path.field, self.raw_value(record, path))

    def matches(self, record: dict, condition: Condition) -> bool:
        op = condition.op
        if op == "and":
            return all(self.matches(record, child) for child in condition.children)
        if op == "or":
            return any(self.matches(record, child) for child in condition.children)
        if op == "not":
            return not self.matches(record, condition.children[0])
        path = condition.path
        assert path is not None
        value = self.value(record, path)
        if op == "like":
            if value is None:
                return False
            return bool(_like_regex(condition.literals[0].value.casefold()).match(str(value).casefold()))
        wanted = [_literal_value(path, literal) for literal in condition.literals]
        if op == "in":
            found = value is not None and value in [w for w in wanted if w is not None]
            if condition.negate:
                return not found
            return found
        target = wanted[0]
        operator = condition.operator
        if operator == "=":
            return value == target
        if operator == "!=":
            return value != target
        if value is None or target is None:
            return False
        try:
            if operator == "<":
                return value < target
            if operator == "<=":
                return value <= target
            if operator == ">":
                return value > target
            return value >= target
        except TypeError:
            return False

    def select(self, query: Query, include_deleted: bool) -> list[dict]:
        records = self.store.live_records(query.object.name, include_deleted=include_deleted)
        if query.where is not None:
            records = [record for record in records if self.matches(record, query.where)]
        for item in reversed(query.order):
            present = [r for r in records if self.value(r, item.path) is not None]
            absent = [r for r in records if self.value(r, item.path) is None]
            present.sort(key=lambda r: _sort_key(self.value(r, item.path)), reverse=item.descending)
            records = absent + present if item.nulls_first else present + absent
        if query.offset:
            records = records[query.offset:]
        if query.limit is not None:
            records = records[:query.limit]
        return records

    def render(self, query: Query, record: dict) -> dict:
        out = {"attributes": {"type": query.object.name,
                              "url": f"/services/data/v{self.version}/sobjects/{query.object.name}/{record['Id']}"}}
        for path in query.fields or []:
            target = out
            current: dict | None = record
            for hop, name in zip(path.hops, path.names):
                target_id = current.get(hop.name) if current else None
                parent = self.store.tables[hop.reference_to].get(target_id) if target_id else None
                if parent is None:
                    target.setdefault(name, None)
                    current = None
                    break
                nested = target.get(name)
                if not isinstance(nested, dict):
                    nested = {"attributes": {
                        "type": hop.reference_to,
                        "url": f"/services/data/v{self.version}/sobjects/{hop.reference_to}/{parent['Id']}"}}
                    target[name] = nested
                target = nested
                current = parent
            if current is not None:
                target[path.field.name] = current.get(path.field.name)
        return out


def _sort_key(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (date, datetime, Decimal, int, str)):
        return value
    return str(value)


def run(text: str, store, version: str, include_deleted: bool = False) -> tuple[int, list[dict]]:
    """(totalSize, rendered records) for a SOQL text. COUNT() gives no records."""
    query = parse(text)
    with store.lock:
        runner = Runner(store, version)
        selected = runner.select(query, include_deleted)
        if query.fields is None:
            return len(selected), []
        return len(selected), [runner.render(query, record) for record in selected]
