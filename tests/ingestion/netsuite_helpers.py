"""Helpers for the NetSuite source tests: a seed, an emulator of the module's own, a dlt pipeline
into a DuckDB file, fingerprints of the tables, the dbt staging build, and a log of the SuiteQL
requests a connection sends."""
from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import dlt
import duckdb

from emulators.common.http import dumps
from emulators.common.server import EmulatorServer
from emulators.common.tls import create_run_certificates
from emulators.netsuite import NetSuiteApp
from ingestion.pipelines import raw_pipeline
from meterledger.connections.netsuite import NetSuiteConnection, NetSuiteCredentials
from meterledger.http import VerifiedSession
from tests.dbt_runs import run_dbt

ACCOUNT_ID = "1234567-sb1"
# Every seeded record was last modified at the same instant, long before the tests run: a second
# load re-reads all of them at the cursor's boundary, and a REST write is always newer.
SEED_STAMP = "2026-01-15T08:00:00Z"
SEED_STAMP_SUITEQL = "2026-01-15 08:00:00"
CUSTOMERS = 20
USAGE_RECORDS = 2_500  # three SuiteQL pages
FIRST_USAGE_ID = 1000

RAW_ROW_COUNTS = {
    "subsidiary": 1, "currency": 2, "currencyrate": 1, "account": 3, "customer": CUSTOMERS, "item": 2,
    "priceplan": 2, "pricetiers": 4, "subscription": 1, "subscriptionline": 2, "accountingperiod": 3,
    "usage": USAGE_RECORDS, "invoice": 2, "invoiceline": 3, "journalentry": 2, "journalentryline": 5,
}
STAGING_MODELS = {
    "subsidiary": "stg_netsuite__subsidiaries", "currency": "stg_netsuite__currencies",
    "currencyrate": "stg_netsuite__currency_rates", "account": "stg_netsuite__accounts",
    "customer": "stg_netsuite__customers", "item": "stg_netsuite__items", "priceplan": "stg_netsuite__price_plans",
    "pricetiers": "stg_netsuite__price_plan_tiers", "subscription": "stg_netsuite__subscriptions",
    "subscriptionline": "stg_netsuite__subscription_lines", "accountingperiod": "stg_netsuite__accounting_periods",
    "usage": "stg_netsuite__usage_records", "invoice": "stg_netsuite__invoices",
    "invoiceline": "stg_netsuite__invoice_lines", "journalentry": "stg_netsuite__journal_entries",
    "journalentryline": "stg_netsuite__journal_entry_lines",
}
DLT_BOOKKEEPING = ("_dlt_load_id", "_dlt_id")


def usage_quantity(number: int) -> Decimal:
    return Decimal(f"{number % 97}.{number % 100:02d}")


def netsuite_seed() -> dict[str, list[dict]]:
    """A small account with every table the source reads: periods open and closed, price plans
    with tiers, a subscription, 2,500 usage records, invoices and journal entries with lines."""
    usd, eur = {"id": "1"}, {"id": "2"}
    records: dict[str, list[dict]] = {
        "currency": [{"id": "1", "symbol": "USD", "name": "US Dollar", "currencyPrecision": 2},
                     {"id": "2", "symbol": "EUR", "name": "Euro", "currencyPrecision": 2}],
        "currencyrate": [{"id": "1", "baseCurrency": usd, "transactionCurrency": eur,
                          "exchangeRate": Decimal("1.0825"), "effectiveDate": "2026-08-01"}],
        "subsidiary": [{"id": "1", "name": "US", "currency": usd, "country": "US"}],
        "account": [{"id": "10", "acctNumber": "1200", "acctName": "Accounts receivable", "acctType": "AcctRec"},
                    {"id": "11", "acctNumber": "4000", "acctName": "Usage revenue", "acctType": "Income"},
                    {"id": "12", "acctNumber": "2400", "acctName": "Deferred revenue", "acctType": "DeferRevenue"}],
        "accountingperiod": [
            {"id": "100", "periodName": "Jul 2026", "startDate": "2026-07-01", "endDate": "2026-07-31",
             "closed": True, "isQuarter": False, "isYear": False},
            {"id": "101", "periodName": "Aug 2026", "startDate": "2026-08-01", "endDate": "2026-08-31",
             "closed": False, "isQuarter": False, "isYear": False},
            {"id": "102", "periodName": "Sep 2026", "startDate": "2026-09-01", "endDate": "2026-09-30",
             "closed": False, "isQuarter": False, "isYear": False}],
        "customer": [{"id": str(n), "entityId": f"C{n:04d}", "companyName": f"Customer {n:04d}",
                      "externalId": f"C{n:04d}", "subsidiary": {"id": "1"}, "currency": usd}
                     for n in range(1, CUSTOMERS + 1)],
        "item": [{"id": "200", "itemId": "api_calls", "displayName": "API calls", "itemType": "Service",
                  "externalId": "api_calls"},
                 {"id": "201", "itemId": "platform_fee", "displayName": "Platform fee", "itemType": "Service",
                  "externalId": "platform_fee"}],
        "priceplan": [
            {"id": "300", "externalId": "PP-platform", "currency": usd, "priceModelType": "flat",
             "priceTiers": {"items": [{"fromVal": 0, "toVal": None, "price": Decimal("499.00")}]}},
            {"id": "301", "externalId": "PP-api", "currency": usd, "priceModelType": "graduated",
             "priceTiers": {"items": [
                 {"fromVal": 0, "toVal": 1000, "price": Decimal("0.02")},
                 {"fromVal": 1000, "toVal": 10000, "price": Decimal("0.015")},
                 {"fromVal": 10000, "toVal": None, "price": Decimal("0.01"), "flatFee": Decimal("5.00")}]}}],
        "subscription": [{"id": "400", "externalId": "K0001", "customer": {"id": "1"}, "subsidiary": {"id": "1"},
                          "currency": usd, "startDate": "2026-01-01", "billingFrequency": "MONTHLY",
                          "status": "ACTIVE"}],
        "subscriptionline": [
            {"id": "500", "externalId": "K0001-api", "subscription": {"id": "400"}, "item": {"id": "200"},
             "lineNumber": 1, "subscriptionLineType": "Usage", "status": "ACTIVE", "pricePlan": {"id": "301"}},
            {"id": "501", "externalId": "K0001-platform", "subscription": {"id": "400"}, "item": {"id": "201"},
             "lineNumber": 2, "subscriptionLineType": "Recurring", "status": "ACTIVE", "pricePlan": {"id": "300"}}],
        "usage": [{"id": str(FIRST_USAGE_ID + n), "externalId": f"usage:K0001-api:{n}", "customer": {"id": "1"},
                   "usageSubscription": {"id": "400"}, "usageSubscriptionLine": {"id": "500"},
                   "usageQuantity": usage_quantity(n), "usageDate": f"2026-08-{n % 31 + 1:02d}"}
                  for n in range(USAGE_RECORDS)],
        "invoice": [
            {"id": "800", "externalId": "BILL:K0001:2026-08-01:2026-08-31", "tranId": "INV000800",
             "entity": {"id": "1"}, "subscription": {"id": "400"}, "tranDate": "2026-08-31",
             "postingPeriod": {"id": "101"}, "currency": usd, "total": Decimal("520.00"),
             "memo": "SuiteBilling 2026-08-01 to 2026-08-31",
             "item": {"items": [
                 {"item": {"id": "200"}, "subscriptionLine": {"id": "500"}, "quantity": Decimal("1050"),
                  "rate": Decimal("0.0200"), "amount": Decimal("21.00"), "usage": [{"id": "1000"}, {"id": "1001"}],
                  "description": "K0001-api"},
                 {"item": {"id": "201"}, "subscriptionLine": {"id": "501"}, "quantity": Decimal("1"),
                  "rate": Decimal("499.00"), "amount": Decimal("499.00"), "description": "K0001-platform"}]}},
            {"id": "801", "externalId": "BILL:K0001:2026-07-01:2026-07-31", "tranId": "INV000801",
             "entity": {"id": "1"}, "subscription": {"id": "400"}, "tranDate": "2026-07-31",
             "postingPeriod": {"id": "100"}, "currency": usd, "total": Decimal("499.00"),
             "item": {"items": [{"item": {"id": "201"}, "subscriptionLine": {"id": "501"}, "quantity": Decimal("1"),
                                 "rate": Decimal("499.00"), "amount": Decimal("499.00"),
                                 "description": "K0001-platform"}]}}],
        "journalentry": [
            {"id": "900", "externalId": "JE:2026-08:usage", "subsidiary": {"id": "1"}, "currency": usd,
             "tranDate": "2026-08-31", "postingPeriod": {"id": "101"}, "memo": "Usage revenue Aug 2026",
             "line": {"items": [
                 {"account": {"id": "12"}, "debit": Decimal("100.00"), "entity": {"id": "1"}, "memo": "deferred"},
                 {"account": {"id": "11"}, "credit": Decimal("60.00"), "entity": {"id": "1"}},
                 {"account": {"id": "11"}, "credit": Decimal("40.00"), "entity": {"id": "1"}}]}},
            {"id": "901", "externalId": "JE:2026-08:platform", "subsidiary": {"id": "1"}, "currency": usd,
             "tranDate": "2026-08-31", "postingPeriod": {"id": "101"},
             "line": {"items": [{"account": {"id": "12"}, "debit": Decimal("25.50")},
                                {"account": {"id": "11"}, "credit": Decimal("25.50")}]}}],
    }
    for typed in records.values():
        for record in typed:
            record["lastModifiedDate"] = SEED_STAMP
    return records


@dataclass
class NetSuiteEmulator:
    """The NetSuite emulator in this process, over HTTPS with a CA of its own."""

    app: NetSuiteApp
    server: EmulatorServer
    ca_bundle: Path
    credentials: NetSuiteCredentials

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def connection(self) -> NetSuiteConnection:
        return NetSuiteConnection(self.base_url, self.credentials, ca_bundle=str(self.ca_bundle), timeout=10)

    def control(self, method: str, path: str, body: Any = None) -> dict:
        response = VerifiedSession(self.ca_bundle).request(method, f"{self.base_url}/_emulator/{path}",
                                                           json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def arm_fault(self, **fault: Any) -> None:
        self.control("POST", "faults", fault)

    def reset(self) -> None:
        self.control("DELETE", "faults")
        self.control("POST", "reset")


def start_emulator(directory: Path) -> NetSuiteEmulator:
    seed_file = directory / "seed.json"
    seed_file.write_bytes(dumps(netsuite_seed()))
    secrets_ = {name: secrets.token_hex(32) for name in ("consumer_key", "consumer_secret", "token_id", "token_secret")}
    app = NetSuiteApp(ACCOUNT_ID, **secrets_, seed_file=seed_file)
    certificates = create_run_certificates(directory / "tls")
    server = EmulatorServer(app, certificates).start()
    credentials = NetSuiteCredentials(ACCOUNT_ID, **secrets_)
    return NetSuiteEmulator(app, server, certificates.ca_bundle, credentials)


def netsuite_pipeline(tmp_path: Path) -> dlt.Pipeline:
    """The NetSuite pipeline as the Dagster assets run it, its state and warehouse in ``tmp_path``."""
    return raw_pipeline("netsuite", warehouse_path(tmp_path), tmp_path / "dlt_pipelines")


def warehouse_path(tmp_path: Path) -> Path:
    # The production file name, which the session's parse of the dbt project expects (tests/dbt_runs.py).
    return tmp_path / "meterledger.duckdb"


def query(tmp_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse_path(tmp_path)), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def table_names(tmp_path: Path, schema: str) -> set[str]:
    names = query(tmp_path, f"select table_name from information_schema.tables where table_schema = '{schema}'")
    return {name for (name,) in names if not name.startswith("_dlt")}


def fingerprint(tmp_path: Path, schema: str, table: str) -> tuple[int, str]:
    """Row count and a hash of every row's content (dlt's load bookkeeping left out)."""
    with duckdb.connect(str(warehouse_path(tmp_path)), read_only=True) as connection:
        columns = [name for (name,) in connection.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position", [schema, table]).fetchall() if name not in DLT_BOOKKEEPING]
        selected = ", ".join(f'"{column}"' for column in columns)
        rows = connection.execute(f"select {selected} from {schema}.{table}").fetchall()
    digest = hashlib.sha256()
    digest.update(repr(columns).encode())
    for row in sorted(rows, key=repr):
        digest.update(repr(row).encode())
    return len(rows), digest.hexdigest()


def fingerprints(tmp_path: Path, schema: str) -> dict[str, tuple[int, str]]:
    return {table: fingerprint(tmp_path, schema, table) for table in sorted(table_names(tmp_path, schema))}


def build_netsuite_staging(tmp_path: Path) -> None:
    """``dbt build`` of the NetSuite staging models (views and their tests) over the test warehouse.

    On the session's parse of the project (tests/dbt_runs.py)."""
    result = run_dbt(["build", "--select", "staging.netsuite", "--threads", "4", "--log-path", str(tmp_path / "dbt_logs")],
                     warehouse_path(tmp_path), tmp_path / "dbt_target")
    assert result.success, result.output[-6000:]


_FROM = re.compile(r"\bFROM\s+(\w+)", re.IGNORECASE)


@dataclass
class SuiteQLLog:
    """Every SuiteQL request a connection sends, as (table, offset, status, monotonic start), with
    an action run once before the first request for a given (table, offset) page."""

    connection: NetSuiteConnection
    entries: list[tuple[str, int, int, float]] = field(default_factory=list)
    _actions: dict[tuple[str, int], Callable[[], None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        send = self.connection.session.request

        def request(method: str, url: str, **kwargs: Any):
            page = None
            if url.endswith("/query/v1/suiteql"):
                page = (_FROM.search(kwargs["json"]["q"]).group(1).lower(), int(kwargs["params"]["offset"]))
                action = self._actions.pop(page, None)
                if action:
                    action()
            started = time.monotonic()
            response = send(method, url, **kwargs)
            if page:
                self.entries.append((*page, response.status_code, started))
            return response

        self.connection.session.request = request

    def before(self, table: str, offset: int, action: Callable[[], None]) -> None:
        self._actions[(table, offset)] = action

    def statuses(self, table: str, offset: int) -> list[int]:
        return [status for (name, at, status, _) in self.entries if (name, at) == (table, offset)]

    def starts(self, table: str, offset: int) -> list[float]:
        return [started for (name, at, _, started) in self.entries if (name, at) == (table, offset)]
