"""The SuiteQL tables loaded and the columns read from each (docs/object-model.md).

Naming the columns, rather than SELECT *, keeps the raw tables' shape stable: a column that is
empty in every row still exists for staging, and a new NetSuite column does not leak in unseen.
"""
from __future__ import annotations

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "subsidiary": ("name", "currency", "country"),
    "currency": ("symbol", "name", "currencyprecision"),
    "currencyrate": ("basecurrency", "transactioncurrency", "exchangerate", "effectivedate"),
    "account": ("acctnumber", "acctname", "accttype"),
    "customer": ("externalid", "entityid", "companyname", "subsidiary", "currency"),
    "item": ("externalid", "itemid", "displayname", "itemtype"),
    "priceplan": ("externalid", "currency", "pricemodeltype"),
    "subscription": ("externalid", "customer", "subsidiary", "currency", "startdate", "enddate",
                     "billingfrequency", "status"),
    "subscriptionline": ("externalid", "subscription", "item", "linenumber", "subscriptionlinetype",
                         "startdate", "enddate", "status", "priceplan"),
    "accountingperiod": ("periodname", "startdate", "enddate", "closed", "isquarter", "isyear"),
}


def column_hints(table: str) -> dict[str, dict]:
    # SuiteQL returns every value as text; staging casts. Declared so all-null columns still exist.
    hints = {column: {"data_type": "text", "nullable": True} for column in TABLE_COLUMNS[table]}
    hints["id"] = {"data_type": "text", "nullable": False}
    return hints


def suiteql_for(table: str, modified_since: str) -> str:
    columns = ", ".join(("id", *TABLE_COLUMNS[table], "lastmodifieddate"))
    return (f"SELECT {columns} FROM {table} WHERE lastmodifieddate >= '{modified_since}' "
            f"ORDER BY lastmodifieddate, id")
