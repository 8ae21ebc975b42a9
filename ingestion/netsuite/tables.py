"""The raw tables loaded from NetSuite, the SuiteQL that reads each, and the shape of their rows
(docs/object-model.md, docs/netsuite-emulator.md "SuiteQL subset").

Naming the columns, rather than SELECT *, keeps the raw tables' shape stable: a column that is
empty in every row still exists for staging, and a new NetSuite column does not leak in unseen.
Custom fields differ per NetSuite account, so they are configuration (``custom_columns``), read
only when named.

SuiteQL answers every value as text (IDs, decimals, dates, ``T`` / ``F``); the raw tables keep it
so and staging casts. Each row is checked against a text-only model: a value that arrives as
anything but text is a type change and fails the load naming the table and column.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

from pydantic import BaseModel, create_model


@dataclass(frozen=True)
class RecordTable:
    """A raw table holding one row per NetSuite record, keyed by internal ID, incremental on the
    record's own ``lastmodifieddate``."""

    name: str
    suiteql_table: str
    columns: tuple[str, ...]
    condition: str | None = None  # a fixed filter, e.g. the transaction type
    custom_prefix: str | None = None

    @property
    def key(self) -> tuple[str, ...]:
        return ("id",)


@dataclass(frozen=True)
class LineTable:
    """A raw table of a record's lines (transaction lines, price tiers). SuiteQL gives lines no
    last-modified date, so they are read for the parent records modified since the last load and
    carry their parent's ``lastmodifieddate``; ``parent_column`` ties a line to its parent."""

    name: str
    parent: RecordTable
    suiteql_table: str
    parent_column: str
    line_column: str
    columns: tuple[str, ...]
    condition: str | None = None
    custom_prefix: str | None = None

    @property
    def key(self) -> tuple[str, ...]:
        return (self.parent_column, self.line_column)


def _record(name: str, *columns: str, custom_prefix: str | None = None) -> RecordTable:
    return RecordTable(name, name, columns, custom_prefix=custom_prefix)


TRANSACTION_COLUMNS = ("externalid", "tranid", "trandate", "postingperiod", "subsidiary", "currency", "memo",
                       "foreigntotal")
INVOICE = RecordTable("invoice", "transaction", (*TRANSACTION_COLUMNS, "entity", "subscription"),
                      condition="type = 'CustInvc'", custom_prefix="custbody_")
JOURNAL_ENTRY = RecordTable("journalentry", "transaction", TRANSACTION_COLUMNS, condition="type = 'Journal'",
                            custom_prefix="custbody_")
PRICE_PLAN = _record("priceplan", "externalid", "currency", "pricemodeltype", "packagesize")

RECORD_TABLES: tuple[RecordTable, ...] = (
    _record("subsidiary", "name", "currency", "country"),
    _record("currency", "symbol", "name", "currencyprecision"),
    _record("currencyrate", "basecurrency", "transactioncurrency", "exchangerate", "effectivedate"),
    _record("account", "acctnumber", "acctname", "accttype"),
    _record("customer", "externalid", "entityid", "companyname", "subsidiary", "currency",
            custom_prefix="custentity_"),
    _record("item", "externalid", "itemid", "displayname", "itemtype", custom_prefix="custitem_"),
    PRICE_PLAN,
    _record("subscription", "externalid", "customer", "subsidiary", "currency", "startdate", "enddate",
            "billingfrequency", "status"),
    _record("subscriptionline", "externalid", "subscription", "item", "linenumber", "subscriptionlinetype",
            "startdate", "enddate", "status", "priceplan"),
    # NetSuite's own period flags: closed, the three locks (all, receivables, payables), and
    # whether the period summarises a quarter or a year.
    _record("accountingperiod", "periodname", "startdate", "enddate", "closed", "alllocked", "arlocked",
            "aplocked", "isquarter", "isyear"),
    # SuiteBilling usage records, including the ones meterledger posted (the read-back).
    _record("usage", "externalid", "customer", "usagesubscription", "usagesubscriptionline", "usagequantity",
            "usagedate", "subscriptionplan", "memo"),
    INVOICE,
    JOURNAL_ENTRY,
)

LINE_TABLES: tuple[LineTable, ...] = (
    # The main line (mainline = 'T') is the transaction's header, not a billed line.
    LineTable("invoiceline", INVOICE, "transactionline", "transaction", "id",
              ("linesequencenumber", "item", "subscriptionline", "usage", "quantity", "rate", "netamount",
               "foreignamount", "entity", "subsidiary", "memo"),
              condition="mainline = 'F'", custom_prefix="custcol_"),
    LineTable("journalentryline", JOURNAL_ENTRY, "transactionline", "transaction", "id",
              ("linesequencenumber", "account", "debitforeignamount", "creditforeignamount", "netamount",
               "foreignamount", "entity", "subsidiary", "memo", "department", "class", "location"),
              custom_prefix="custcol_"),
    LineTable("pricetiers", PRICE_PLAN, "pricetiers", "priceplan", "linenumber",
              ("fromval", "toval", "price", "flatfee")),
)

TABLES: dict[str, RecordTable | LineTable] = {table.name: table for table in (*RECORD_TABLES, *LINE_TABLES)}

_CUSTOM_COLUMN = re.compile(r"^[a-z][a-z0-9_]*$")


def custom_columns_for(table: RecordTable | LineTable, configured: Mapping[str, Sequence[str]] | None
                       ) -> tuple[str, ...]:
    """The custom columns configured for a table, lower-cased as SuiteQL names them."""
    columns = tuple(column.lower() for column in (configured or {}).get(table.name, ()))
    for column in columns:
        if table.custom_prefix is None or not column.startswith(table.custom_prefix) \
                or not _CUSTOM_COLUMN.match(column):
            allowed = f"names starting with {table.custom_prefix}" if table.custom_prefix else "none"
            raise ValueError(f"custom column {column!r} is not valid for NetSuite table {table.name!r} "
                             f"(custom columns allowed: {allowed})")
    return columns


def check_custom_columns(configured: Mapping[str, Sequence[str]] | None) -> None:
    """Name every configured table NetSuite's source does not load (each table's own columns are
    checked by ``custom_columns_for`` as the source builds its resources)."""
    unknown = sorted(set(configured or {}) - set(TABLES))
    if unknown:
        raise ValueError(f"custom columns configured for unknown NetSuite tables: {', '.join(unknown)} "
                         f"(known: {', '.join(TABLES)})")


def row_model(table: RecordTable | LineTable, custom: Sequence[str] = ()) -> type[BaseModel]:
    """The raw row as dlt validates it: every column text, the key and cursor required."""
    required = (*table.key, "lastmodifieddate")
    optional = [column for column in (*table.columns, *custom) if column not in required]
    fields = {column: (str, ...) for column in table.key}
    fields.update({column: (Optional[str], None) for column in optional})
    fields["lastmodifieddate"] = (str, ...)
    return create_model(f"NetSuite_{table.name}", **fields)


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _where(*conditions: str | None) -> str:
    return " AND ".join(condition for condition in conditions if condition)


def modified_since_query(table: RecordTable, modified_since: str, custom: Sequence[str] = ()) -> str:
    columns = ", ".join(("id", *table.columns, *custom, "lastmodifieddate"))
    where = _where(table.condition, f"lastmodifieddate >= {_text(modified_since)}")
    return f"SELECT {columns} FROM {table.suiteql_table} WHERE {where} ORDER BY lastmodifieddate, id"


def parents_modified_since_query(table: LineTable, modified_since: str) -> str:
    parent = table.parent
    where = _where(parent.condition, f"lastmodifieddate >= {_text(modified_since)}")
    return f"SELECT id, lastmodifieddate FROM {parent.suiteql_table} WHERE {where} ORDER BY lastmodifieddate, id"


def lines_query(table: LineTable, parent_ids: Iterable[str], custom: Sequence[str] = ()) -> str:
    ids = list(parent_ids)
    if not ids or not all(parent_id.isdigit() for parent_id in ids):
        raise ValueError(f"internal IDs must be digits: {ids!r}")
    columns = ", ".join((*table.key, *table.columns, *custom))
    where = _where(f"{table.parent_column} IN ({', '.join(ids)})", table.condition)
    return f"SELECT {columns} FROM {table.suiteql_table} WHERE {where} ORDER BY {', '.join(table.key)}"
