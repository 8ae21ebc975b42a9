"""NetSuite emulator fixtures: a CA made for the test session, the emulator on loopback, and a
client that signs every request with TBA (OAuth 1.0a, HMAC-SHA256) like the real integrations.

Test modules load this as a plugin (``pytest_plugins = ["tests.emulators.netsuite_fixtures"]``)
so the session-scoped server is shared by every NetSuite test module. They reach the helpers
through the fixtures (``netsuite.unique(...)``, ``netsuite.credentials``) rather than importing
this module, which pytest must import itself to rewrite its assertions.
"""
from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from requests_oauthlib import OAuth1

from emulators.common.http import dumps
from emulators.common.server import EmulatorServer
from emulators.common.tls import RunCertificates, create_run_certificates
from emulators.netsuite import NetSuiteApp
from meterledger.http import VerifiedSession

NETSUITE_ACCOUNT_ID = "1234567-sb1"
NETSUITE_REALM = "1234567_SB1"


def _hex(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()  # 64 hex characters, like NetSuite's keys


NETSUITE_CREDENTIALS = {
    "consumer_key": _hex("consumer key"),
    "consumer_secret": _hex("consumer secret"),
    "token_id": _hex("token id"),
    "token_secret": _hex("token secret"),
}
NETSUITE_CUSTOMER_COUNT = 1150  # more than one SuiteQL page


def netsuite_seed() -> dict[str, list[dict]]:
    """A small account: currencies, periods, price plans, two subscriptions with August usage,
    and enough customers to page SuiteQL results."""
    usd, eur = {"id": "1"}, {"id": "2"}
    customers = [{"id": str(n), "entityId": f"C{n:04d}", "companyName": f"Customer {n:04d}",
                  "externalId": f"C{n:04d}", "subsidiary": {"id": "1" if n % 3 else "2"},
                  "currency": usd if n % 3 else eur} for n in range(1, NETSUITE_CUSTOMER_COUNT + 1)]
    return {
        "currency": [
            {"id": "1", "symbol": "USD", "name": "US Dollar", "currencyPrecision": 2},
            {"id": "2", "symbol": "EUR", "name": "Euro", "currencyPrecision": 2},
            {"id": "3", "symbol": "JPY", "name": "Yen", "currencyPrecision": 0},
        ],
        "currencyrate": [{"id": "1", "baseCurrency": usd, "transactionCurrency": eur,
                          "exchangeRate": Decimal("1.0825"), "effectiveDate": "2026-08-01"}],
        "subsidiary": [{"id": "1", "name": "US", "currency": usd, "country": "US"},
                       {"id": "2", "name": "EU", "currency": eur, "country": "DE"}],
        "account": [{"id": "10", "acctNumber": "4000", "acctName": "Usage revenue", "acctType": "Income"},
                    {"id": "11", "acctNumber": "1200", "acctName": "Accounts receivable",
                     "acctType": "AcctRec"},
                    {"id": "12", "acctNumber": "2400", "acctName": "Deferred revenue",
                     "acctType": "DeferRevenue"}],
        "accountingperiod": [
            {"id": "100", "periodName": "Jul 2026", "startDate": "2026-07-01", "endDate": "2026-07-31",
             "closed": True, "isQuarter": False, "isYear": False},
            {"id": "101", "periodName": "Aug 2026", "startDate": "2026-08-01", "endDate": "2026-08-31",
             "closed": False, "isQuarter": False, "isYear": False},
            {"id": "102", "periodName": "Sep 2026", "startDate": "2026-09-01", "endDate": "2026-09-30",
             "closed": False, "isQuarter": False, "isYear": False},
            {"id": "103", "periodName": "Oct 2026", "startDate": "2026-10-01", "endDate": "2026-10-31",
             "closed": False, "isQuarter": False, "isYear": False},
        ],
        "customer": customers,
        "item": [{"id": "200", "itemId": "api_calls", "displayName": "API calls", "itemType": "Service",
                  "externalId": "api_calls"},
                 {"id": "201", "itemId": "platform_fee", "displayName": "Platform fee", "itemType": "Service",
                  "externalId": "platform_fee"}],
        "priceplan": [
            {"id": "300", "externalId": "PP-unit", "currency": usd, "priceModelType": "unit",
             "priceTiers": {"items": [{"fromVal": 0, "toVal": None, "price": Decimal("0.0125")}]}},
            {"id": "301", "externalId": "PP-graduated", "currency": usd, "priceModelType": "graduated",
             "priceTiers": {"items": [
                 {"fromVal": 0, "toVal": 1000, "price": Decimal("0.02")},
                 {"fromVal": 1000, "toVal": 10000, "price": Decimal("0.015")},
                 {"fromVal": 10000, "toVal": None, "price": Decimal("0.01")}]}},
            {"id": "302", "externalId": "PP-platform", "currency": usd, "priceModelType": "flat",
             "priceTiers": {"items": [{"fromVal": 0, "toVal": None, "price": Decimal("499.00")}]}},
        ],
        "subscription": [
            {"id": "400", "externalId": "K0001", "customer": {"id": "1"}, "subsidiary": {"id": "1"},
             "currency": usd, "startDate": "2026-01-01", "billingFrequency": "MONTHLY", "status": "ACTIVE"},
            {"id": "401", "externalId": "K0002", "customer": {"id": "2"}, "subsidiary": {"id": "1"},
             "currency": usd, "startDate": "2026-01-01", "billingFrequency": "MONTHLY", "status": "ACTIVE",
             "subscriptionLine": {"items": [  # lines may also come inline
                 {"id": "502", "externalId": "K0002-api", "item": {"id": "200"}, "lineNumber": 1,
                  "subscriptionLineType": "Usage", "status": "ACTIVE", "pricePlan": {"id": "301"}}]}},
        ],
        "subscriptionline": [
            {"id": "500", "externalId": "K0001-api", "subscription": {"id": "400"}, "item": {"id": "200"},
             "lineNumber": 1, "subscriptionLineType": "Usage", "status": "ACTIVE", "pricePlan": {"id": "300"}},
            {"id": "501", "externalId": "K0001-platform", "subscription": {"id": "400"},
             "item": {"id": "201"}, "lineNumber": 2, "subscriptionLineType": "Recurring", "status": "ACTIVE",
             "pricePlan": {"id": "302"}},
        ],
        "usage": [
            *[{"id": str(600 + i), "externalId": f"U-K0001-api-{i}", "customer": {"id": "1"},
               "usageSubscription": {"id": "400"}, "usageSubscriptionLine": {"id": "500"},
               "usageQuantity": Decimal(q), "usageDate": d}
              for i, (q, d) in enumerate([("1234.5", "2026-08-03"), ("100.25", "2026-08-17"),
                                          ("7", "2026-08-31"), ("999", "2026-09-01")])],
            *[{"id": str(610 + i), "externalId": f"U-K0002-api-{i}", "customer": {"id": "2"},
               "usageSubscription": {"id": "401"}, "usageSubscriptionLine": {"id": "502"},
               "usageQuantity": Decimal(q), "usageDate": d}
              for i, (q, d) in enumerate([("800", "2026-08-01"), ("700", "2026-08-15"),
                                          ("11000.5", "2026-08-30"), ("5", "2026-07-31")])],
        ],
    }


@dataclass
class NetSuiteClient:
    """Real HTTPS requests, TLS verified against the run's CA, every one signed with TBA."""

    base_url: str
    ca_bundle: Path
    app: NetSuiteApp
    session: requests.Session = field(init=False)
    account_id: str = NETSUITE_ACCOUNT_ID
    realm: str = NETSUITE_REALM
    credentials: dict = field(default_factory=lambda: dict(NETSUITE_CREDENTIALS))
    seed_customers: int = NETSUITE_CUSTOMER_COUNT

    def __post_init__(self) -> None:
        self.session = VerifiedSession(self.ca_bundle)

    def auth(self, **overrides: Any) -> OAuth1:
        settings = {
            "client_key": NETSUITE_CREDENTIALS["consumer_key"],
            "client_secret": NETSUITE_CREDENTIALS["consumer_secret"],
            "resource_owner_key": NETSUITE_CREDENTIALS["token_id"],
            "resource_owner_secret": NETSUITE_CREDENTIALS["token_secret"],
            "signature_method": "HMAC-SHA256",
            "realm": NETSUITE_REALM,
            **overrides,
        }
        return OAuth1(**settings)

    def request(self, method: str, path: str, *, auth: OAuth1 | None = None, json_body: Any = None,
                headers: dict[str, str] | None = None, timeout: float = 10, **kwargs: Any) -> requests.Response:
        merged = dict(headers or {})
        data = None
        if json_body is not None:
            data = dumps(json_body)
            merged.setdefault("Content-Type", "application/json")
        return self.session.request(method, self.base_url + path, auth=auth or self.auth(), data=data,
                                    headers=merged, timeout=timeout, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def record(self, record_type: str, key: str) -> requests.Response:
        return self.get(f"/services/rest/record/v1/{record_type}/{key}", params={"expandSubResources": "true"})

    def create(self, record_type: str, body: dict, **kwargs: Any) -> requests.Response:
        return self.request("POST", f"/services/rest/record/v1/{record_type}", json_body=body, **kwargs)

    def suiteql(self, query: str, *, limit: int | None = None, offset: int | None = None,
                **kwargs: Any) -> requests.Response:
        params = {key: value for key, value in (("limit", limit), ("offset", offset)) if value is not None}
        headers = {"Prefer": "transient", **kwargs.pop("headers", {})}
        return self.request("POST", "/services/rest/query/v1/suiteql", json_body={"q": query}, params=params,
                            headers=headers, **kwargs)

    def rows(self, query: str) -> list[dict]:
        response = self.suiteql(query)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    def control(self, method: str, path: str, body: Any = None) -> requests.Response:
        return self.session.request(method, f"{self.base_url}/_emulator/{path}", json=body, timeout=10)

    def arm_fault(self, **fault: Any) -> None:
        response = self.control("POST", "faults", fault)
        assert response.status_code == 200, response.text

    @staticmethod
    def unique(prefix: str) -> str:
        return unique(prefix)

    def wait_job(self, location: str, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            job = self.session.get(location, auth=self.auth(), timeout=10).json()
            if job["completed"] or time.monotonic() > deadline:
                return job
            time.sleep(0.05)

    def task_results(self, job_location: str) -> list[requests.Response]:
        tasks = self.session.get(job_location + "/task", auth=self.auth(), timeout=10).json()["items"]
        return [self.session.get(task["links"][0]["href"] + "/result", auth=self.auth(), timeout=10)
                for task in tasks]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def netsuite_certificates(tmp_path_factory: pytest.TempPathFactory) -> RunCertificates:
    return create_run_certificates(tmp_path_factory.mktemp("netsuite-tls"))


@pytest.fixture(scope="session")
def netsuite_seed_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("netsuite-seed") / "seed.json"
    path.write_bytes(dumps(netsuite_seed()))
    return path


def _start(app: NetSuiteApp, certificates: RunCertificates) -> tuple[EmulatorServer, NetSuiteClient]:
    server = EmulatorServer(app, certificates).start()
    return server, NetSuiteClient(server.base_url, certificates.ca_bundle, app)


@pytest.fixture(scope="session")
def netsuite_server(netsuite_certificates: RunCertificates, netsuite_seed_file: Path):
    app = NetSuiteApp(NETSUITE_ACCOUNT_ID, **NETSUITE_CREDENTIALS, seed_file=netsuite_seed_file)
    server, client = _start(app, netsuite_certificates)
    yield client
    server.stop()


@pytest.fixture
def netsuite(netsuite_server: NetSuiteClient) -> NetSuiteClient:
    """The shared emulator, with no fault armed and async processing running."""
    netsuite_server.control("DELETE", "faults")
    netsuite_server.control("POST", "async", {"paused": False})
    yield netsuite_server
    netsuite_server.control("DELETE", "faults")
    netsuite_server.control("POST", "async", {"paused": False})


@pytest.fixture
def netsuite_factory(netsuite_certificates: RunCertificates, netsuite_seed_file: Path):
    """Start a private emulator: ``netsuite_factory(concurrency_limit=2, state_file=...)``."""
    servers: list[EmulatorServer] = []

    def start(**kwargs: Any) -> NetSuiteClient:
        kwargs.setdefault("seed_file", netsuite_seed_file)
        app = NetSuiteApp(NETSUITE_ACCOUNT_ID, **NETSUITE_CREDENTIALS, **kwargs)
        server, client = _start(app, netsuite_certificates)
        servers.append(server)
        return client

    yield start
    for server in servers:
        server.stop()


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(), parse_float=Decimal)
