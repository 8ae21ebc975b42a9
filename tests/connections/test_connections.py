"""The shared NetSuite and Salesforce connections against the emulators, over real HTTPS."""
from __future__ import annotations

import pytest

from meterledger.connections.errors import DestinationError
from meterledger.connections.salesforce import SalesforceConnection
from meterledger.http import VerifiedSession


def _arm(stack, base_url: str, **fault) -> None:
    session = VerifiedSession(stack.certificates.ca_bundle)
    session.post(f"{base_url}/_emulator/faults", json=fault, timeout=5).raise_for_status()


def test_suiteql_retries_429_and_500_then_reads_every_page(emulator_stack, netsuite_connection):
    url = emulator_stack.environment()["NETSUITE_BASE_URL"]
    _arm(emulator_stack, url, kind="status", status=429, error_code="CONCURRENCY_LIMIT_EXCEEDED", count=2)
    _arm(emulator_stack, url, kind="status", status=500, count=1)
    rates = list(netsuite_connection.suiteql("SELECT id FROM currencyrate ORDER BY id"))
    assert len(rates) == len({row["id"] for row in rates}) > 1000  # past one page, none twice


def test_a_dropped_connection_is_retried(emulator_stack, netsuite_connection):
    _arm(emulator_stack, emulator_stack.environment()["NETSUITE_BASE_URL"], kind="drop", count=1)
    assert list(netsuite_connection.suiteql("SELECT id FROM subsidiary ORDER BY id")) == [{"id": "1"}, {"id": "2"}]


def test_a_business_error_is_raised_at_once_with_netsuites_message(netsuite_connection):
    with pytest.raises(DestinationError) as error:
        netsuite_connection.request("PUT", "/record/v1/usage/eid:test-bad-reference", json={
            "usageSubscription": {"id": "999999"}, "usageSubscriptionLine": {"id": "999998"},
            "usageQuantity": 1, "usageDate": "2026-08-31"})
    assert error.value.status == 400 and not error.value.retryable
    assert error.value.code in ("INVALID_CONTENT", "USER_ERROR") and error.value.message


def test_salesforce_reauthenticates_once_when_the_session_expires(emulator_stack, salesforce_connection):
    assert len(list(salesforce_connection.query("SELECT Id FROM Account"))) > 0
    old_token = salesforce_connection._access_token
    VerifiedSession(emulator_stack.certificates.ca_bundle).post(
        f"{emulator_stack.environment()['SALESFORCE_LOGIN_URL']}/_emulator/expire-tokens", timeout=5
    ).raise_for_status()
    assert len(list(salesforce_connection.query("SELECT Id FROM Account"))) > 0
    assert salesforce_connection._access_token != old_token


def test_salesforce_bad_credentials_are_a_clear_error(emulator_stack):
    env = emulator_stack.environment()
    connection = SalesforceConnection(env["SALESFORCE_LOGIN_URL"], env["SALESFORCE_CLIENT_ID"], "wrong-secret",
                                      ca_bundle=env["SALESFORCE_CA_BUNDLE"])
    with pytest.raises(DestinationError) as error:
        list(connection.query("SELECT Id FROM Account"))
    assert error.value.code == "invalid_client" and "wrong-secret" not in str(error.value)


def test_tls_is_verified_against_the_run_ca_only(emulator_stack):
    import requests

    with pytest.raises(requests.exceptions.SSLError):
        VerifiedSession("/etc/ssl/certs/ca-certificates.crt").get(
            emulator_stack.environment()["NETSUITE_BASE_URL"] + "/services/rest/record/v1/customer/1", timeout=5)
