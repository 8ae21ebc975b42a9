"""Fixtures for the Salesforce emulator tests: a run CA, a seed with more than 2000 rows, an HTTPS
server on loopback, and a small client that speaks to it through ``VerifiedSession``.

Test modules import what they use: ``from tests.emulators.salesforce_fixtures import ...``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests

from emulators.common.http import dumps
from emulators.common.server import EmulatorServer
from emulators.common.tls import RunCertificates, create_run_certificates
from emulators.salesforce import SalesforceApp
from meterledger.http import VerifiedSession

CLIENT_ID = "meterledger-test-client"
CLIENT_SECRET = "s3cret-for-tests"
VERSION = "62.0"
USAGE_ROWS = 2100  # more than one query page (2000)


def seed_id(prefix: str, number: int) -> str:
    """Seed ids the way a generator might write them: prefix, zero padding, a fixed suffix."""
    return f"{prefix}{number:012d}AAA"


ACCOUNT_1, ACCOUNT_2, ACCOUNT_3 = (seed_id("001", n) for n in (1, 2, 3))
CONTRACT_1, CONTRACT_2, CONTRACT_DUP_A, CONTRACT_DUP_B = (seed_id("800", n) for n in (1, 2, 3, 4))
LINE_API, LINE_PLATFORM, LINE_EU = (seed_id("a01", n) for n in (1, 2, 3))


def build_seed(usage_rows: int = USAGE_ROWS) -> dict[str, list[dict]]:
    """A seed in the shape docs/object-model.md fixes, with ``usage_rows`` usage summaries."""
    accounts = [
        {"Id": ACCOUNT_1, "Name": "Acme Corp", "Customer_Key__c": "C0001", "CurrencyIsoCode": "USD",
         "Subsidiary__c": "US", "NetSuite_Customer_Id__c": "101", "Credit_Balance__c": Decimal("1250.50"),
         "Usage_Alert__c": None, "Credit_Runout_Date__c": None,
         "SystemModstamp": "2026-10-01T12:00:00.000+0000"},
        {"Id": ACCOUNT_2, "Name": "Globex GmbH", "Customer_Key__c": "C0002", "CurrencyIsoCode": "EUR",
         "Subsidiary__c": "EU", "NetSuite_Customer_Id__c": "102", "Credit_Balance__c": Decimal("0"),
         "Usage_Alert__c": "80% of commitment used", "Credit_Runout_Date__c": "2026-12-15",
         "SystemModstamp": "2026-10-02T08:30:00.000+0000"},
        {"Id": ACCOUNT_3, "Name": "Initech", "Customer_Key__c": "C0003", "CurrencyIsoCode": "USD",
         "Subsidiary__c": "US", "NetSuite_Customer_Id__c": "103", "Credit_Balance__c": None},
    ]
    contracts = [
        {"Id": CONTRACT_1, "AccountId": ACCOUNT_1, "Contract_Key__c": "K0001", "Status": "Activated",
         "StartDate": "2026-01-01", "EndDate": "2026-12-31", "CurrencyIsoCode": "USD",
         "Billing_Frequency__c": "monthly", "Billing_Anchor__c": "calendar", "NetSuite_Subscription_Id__c": "501"},
        {"Id": CONTRACT_2, "AccountId": ACCOUNT_2, "Contract_Key__c": "K0002", "Status": "Draft",
         "StartDate": "2026-03-15", "EndDate": "2027-03-14", "CurrencyIsoCode": "EUR",
         "Billing_Frequency__c": "quarterly", "Billing_Anchor__c": "start", "NetSuite_Subscription_Id__c": "502"},
        # Contract_Key__c is an External ID but not unique: two records share a value (upsert → 300).
        {"Id": CONTRACT_DUP_A, "AccountId": ACCOUNT_3, "Contract_Key__c": "K-DUP", "Status": "Draft"},
        {"Id": CONTRACT_DUP_B, "AccountId": ACCOUNT_3, "Contract_Key__c": "K-DUP", "Status": "Draft"},
    ]
    lines = [
        {"Id": LINE_API, "Contract__c": CONTRACT_1, "Line_Key__c": "K0001-api", "Kind__c": "usage",
         "Product__c": "API", "Meter__c": "api_calls", "Timing__c": "in_arrears", "Revenue_Rule__c": "as_consumed",
         "Price_Model__c": "graduated", "Included_Quantity__c": Decimal("1000"),
         "NetSuite_Subscription_Line_Id__c": "601"},
        {"Id": LINE_PLATFORM, "Contract__c": CONTRACT_1, "Line_Key__c": "K0001-platform",
         "Kind__c": "recurring_fee", "Product__c": "Platform", "Amount__c": Decimal("499.00"),
         "Timing__c": "in_advance", "Revenue_Rule__c": "ratable_daily", "NetSuite_Subscription_Line_Id__c": "602"},
        {"Id": LINE_EU, "Contract__c": CONTRACT_2, "Line_Key__c": "K0002-api", "Kind__c": "usage",
         "Meter__c": "api_calls", "Price_Model__c": "unit", "Unit_Price__c": Decimal("0.00015"),
         "NetSuite_Subscription_Line_Id__c": "603"},
    ]
    tiers = [
        {"Id": seed_id("a02", 1), "Contract_Line__c": LINE_API, "Tier_Number__c": 1,
         "Up_To__c": Decimal("10000"), "Unit_Price__c": Decimal("0.0020"), "Flat_Fee__c": Decimal("0")},
        {"Id": seed_id("a02", 2), "Contract_Line__c": LINE_API, "Tier_Number__c": 2, "Up_To__c": None,
         "Unit_Price__c": Decimal("0.0015")},
    ]
    amendments = [
        {"Id": seed_id("a03", 1), "Contract__c": CONTRACT_1, "Contract_Line__c": LINE_PLATFORM,
         "Amendment_Key__c": "K0001-A1", "Type__c": "upgrade", "Effective_Date__c": "2026-07-01",
         "Status__c": "Activated", "Cancel__c": False, "New_Amount__c": Decimal("799.00")},
    ]
    start = date(2026, 1, 1)
    usage = []
    for number in range(usage_rows):  # no Id: the emulator assigns them
        day = start + timedelta(days=number % 300)
        usage.append({
            "External_Id__c": f"US-{number:05d}",
            "Account__c": ACCOUNT_1 if number % 2 == 0 else ACCOUNT_2,
            "Contract_Line__c": LINE_API if number % 2 == 0 else LINE_EU,
            "Meter__c": "api_calls",
            "Period_Start__c": day.isoformat(),
            "Period_End__c": day.isoformat(),
            "Quantity__c": Decimal(number) + Decimal("0.25"),
            "Amount__c": Decimal("1.10"),
            "CurrencyIsoCode": "USD" if number % 2 == 0 else "EUR",
            "Status__c": "Sent",
        })
    return {"Account": accounts, "Contract": contracts, "Contract_Line__c": lines, "Price_Tier__c": tiers,
            "Amendment__c": amendments, "Usage_Summary__c": usage}


def write_seed(path: Path, seed: dict | None = None) -> Path:
    path.write_bytes(dumps(seed if seed is not None else build_seed()))
    return path


# Client ------------------------------------------------------------------------------------------
@dataclass
class SfClient:
    """A test's view of one running emulator: authorised REST calls and control calls."""

    base_url: str
    ca_bundle: Path
    app: SalesforceApp
    session: VerifiedSession = field(init=False)
    token: str = ""

    def __post_init__(self) -> None:
        self.session = VerifiedSession(self.ca_bundle)

    def url(self, path: str) -> str:
        return f"{self.base_url}/services/data/v{VERSION}{path}"

    def new_token(self) -> dict:
        response = VerifiedSession(self.ca_bundle).post(
            f"{self.base_url}/services/oauth2/token", timeout=10,
            data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
        assert response.status_code == 200, response.text
        return response.json()

    def login(self) -> "SfClient":
        self.token = self.new_token()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"
        return self

    def request(self, method: str, path: str, payload: Any = None, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        if payload is not None:
            kwargs["data"] = dumps(payload)
            kwargs.setdefault("headers", {})["Content-Type"] = "application/json"
        return self.session.request(method, self.url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, payload: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, payload, **kwargs)

    def patch(self, path: str, payload: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, payload, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def query(self, soql: str, endpoint: str = "query") -> requests.Response:
        return self.get(f"/{endpoint}", params={"q": soql})

    def control(self, method: str, path: str, payload: Any = None) -> requests.Response:
        response = VerifiedSession(self.ca_bundle).request(
            method, f"{self.base_url}/_emulator/{path}", timeout=10,
            data=dumps(payload) if payload is not None else None)
        assert response.status_code < 300, response.text
        return response

    def arm(self, **fault: Any) -> None:
        self.control("POST", "faults", fault)

    def records(self, object_name: str, include_deleted: bool = True) -> list[dict]:
        """Every record of the object, read back through the dump control (numbers as Decimal)."""
        response = self.control("GET", f"records/{object_name}"
                                       f"{'' if include_deleted else '?include_deleted=false'}")
        return json.loads(response.text, parse_float=Decimal)["records"]

    def record_by(self, object_name: str, field_name: str, value: Any) -> list[dict]:
        return [record for record in self.records(object_name) if record.get(field_name) == value]


def as_json(response: requests.Response) -> Any:
    return json.loads(response.text, parse_float=Decimal)


def assert_error(response: requests.Response, status: int, error_code: str) -> dict:
    """The response is ``status`` with a Salesforce error body naming ``error_code``."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body, list) and body, body
    assert body[0]["errorCode"] == error_code, body
    assert isinstance(body[0]["message"], str) and body[0]["message"]
    return body[0]


# Fixtures ----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def sf_certificates(tmp_path_factory: pytest.TempPathFactory) -> RunCertificates:
    return create_run_certificates(tmp_path_factory.mktemp("salesforce-ca"))


@pytest.fixture(scope="session")
def sf_seed_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_seed(tmp_path_factory.mktemp("salesforce-seed") / "seed.json")


@pytest.fixture(scope="module")
def sf_server(sf_certificates: RunCertificates, sf_seed_file: Path) -> Iterator[tuple[EmulatorServer, SalesforceApp]]:
    app = SalesforceApp(CLIENT_ID, CLIENT_SECRET, seed_file=sf_seed_file, bulk_step_delay=0.15)
    with EmulatorServer(app, sf_certificates) as server:
        yield server, app


@pytest.fixture
def sf(sf_server: tuple[EmulatorServer, SalesforceApp], sf_certificates: RunCertificates) -> SfClient:
    """A logged-in client on a freshly reset emulator (seed reloaded, usage zero, no faults)."""
    server, app = sf_server
    client = SfClient(server.base_url, sf_certificates.ca_bundle, app)
    client.control("POST", "reset")
    return client.login()


@pytest.fixture
def sf_factory(sf_certificates: RunCertificates) -> Iterator[Callable[..., SfClient]]:
    """Start extra emulators with their own constructor arguments; stopped after the test."""
    servers: list[EmulatorServer] = []

    def start(**kwargs: Any) -> SfClient:
        app = SalesforceApp(CLIENT_ID, CLIENT_SECRET, **kwargs)
        server = EmulatorServer(app, sf_certificates).start()
        servers.append(server)
        return SfClient(server.base_url, sf_certificates.ca_bundle, app)

    yield start
    for server in servers:
        server.stop()
