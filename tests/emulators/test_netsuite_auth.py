"""Token-Based Authentication: every way a signature can be wrong is a 401 INVALID_LOGIN and
nothing is written."""
from __future__ import annotations

from typing import TYPE_CHECKING

import time

import pytest
import requests

from emulators.netsuite.auth import realm_for

if TYPE_CHECKING:
    from tests.emulators.netsuite_fixtures import NetSuiteClient

pytest_plugins = ["tests.emulators.netsuite_fixtures"]


def customer_body(external_id: str) -> dict:
    return {"externalId": external_id, "companyName": f"Auth test {external_id}", "subsidiary": {"id": "1"}}


def assert_invalid_login(response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["title"] == "Unauthorized"
    assert body["status"] == 401
    assert body["type"].startswith("https://www.rfc-editor.org/rfc/rfc9110.html")
    detail = body["o:errorDetails"][0]
    assert detail["o:errorCode"] == "INVALID_LOGIN"
    assert detail["detail"].startswith("Invalid login attempt.")


def assert_not_written(netsuite: NetSuiteClient, external_id: str) -> None:
    assert netsuite.record("customer", f"eid:{external_id}").status_code == 404
    assert netsuite.rows(f"SELECT id FROM customer WHERE externalid = '{external_id}'") == []


def test_a_signed_request_is_served(netsuite: NetSuiteClient) -> None:
    response = netsuite.record("customer", "1")
    assert response.status_code == 200
    assert response.json()["externalId"] == "C0001"


REJECTED = {
    "bad_signature": {"client_secret": "f" * 64},
    "bad_token_secret": {"resource_owner_secret": "e" * 64},
    "unknown_consumer": {"client_key": "a" * 64},
    "unknown_token": {"resource_owner_key": "b" * 64},
    "hmac_sha1": {"signature_method": "HMAC-SHA1"},
    "plaintext": {"signature_method": "PLAINTEXT"},
    "short_nonce": {"nonce": "abc12"},
    "stale_timestamp": {"timestamp": str(int(time.time()) - 400)},
    # Computed when the test runs, not at collection: a long suite would otherwise let it age
    # back into the accepted window.
    "future_timestamp": {"timestamp": lambda: str(int(time.time()) + 400)},
    "wrong_realm_case": {"realm": "1234567-sb1"},
    "wrong_realm_account": {"realm": "7654321_SB1"},
    "no_realm": {"realm": None},
}


@pytest.mark.parametrize("overrides", list(REJECTED.values()), ids=list(REJECTED))
def test_rejected_signature_writes_nothing(netsuite: NetSuiteClient, overrides: dict) -> None:
    external_id = netsuite.unique("AUTH")
    overrides = {key: value() if callable(value) else value for key, value in overrides.items()}
    response = netsuite.create("customer", customer_body(external_id), auth=netsuite.auth(**overrides))
    assert_invalid_login(response)
    assert_not_written(netsuite, external_id)


def test_missing_authorization_header(netsuite: NetSuiteClient) -> None:
    external_id = netsuite.unique("AUTH")
    response = netsuite.session.post(netsuite.base_url + "/services/rest/record/v1/customer",
                                     json=customer_body(external_id), timeout=10)
    assert_invalid_login(response)
    assert_not_written(netsuite, external_id)


def test_nonce_of_six_characters_is_accepted(netsuite: NetSuiteClient) -> None:
    response = netsuite.get("/services/rest/record/v1/customer/1", auth=netsuite.auth(nonce="a1b2c3"))
    assert response.status_code == 200


def test_reused_nonce_is_rejected(netsuite: NetSuiteClient) -> None:
    auth = netsuite.auth(nonce=netsuite.unique("n").replace("-", ""), timestamp=str(int(time.time())))
    first, second = netsuite.unique("AUTH"), netsuite.unique("AUTH")
    assert netsuite.create("customer", customer_body(first), auth=auth).status_code == 204
    replay = netsuite.create("customer", customer_body(second), auth=auth)
    assert_invalid_login(replay)
    assert netsuite.record("customer", f"eid:{first}").status_code == 200
    assert_not_written(netsuite, second)


def test_query_parameters_are_signed(netsuite: NetSuiteClient) -> None:
    """The signature covers the query string: a parameter added after signing is refused."""
    request = netsuite.session.prepare_request(requests.Request(
        "GET", netsuite.base_url + "/services/rest/record/v1/customer", params={"limit": "5"},
        auth=netsuite.auth()))
    request.url = request.url.replace("limit=5", "limit=6")
    response = netsuite.session.send(request, verify=str(netsuite.ca_bundle), timeout=10)
    assert_invalid_login(response)


def test_realm_is_the_upper_cased_account_id(netsuite) -> None:
    assert netsuite.account_id == "1234567-sb1"
    assert realm_for(netsuite.account_id) == netsuite.realm == "1234567_SB1"
    assert len(netsuite.credentials["consumer_key"]) == 64
