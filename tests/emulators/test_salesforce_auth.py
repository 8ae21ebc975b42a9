"""OAuth 2.0 client credentials and session errors of the Salesforce emulator."""
from __future__ import annotations

import base64

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession

from meterledger.http import VerifiedSession
from tests.emulators.salesforce_fixtures import (  # noqa: F401 - fixtures
    CLIENT_ID, CLIENT_SECRET, VERSION, SfClient, assert_error, sf, sf_certificates, sf_factory, sf_seed_file,
    sf_server,
)


def token_request(sf: SfClient, **data: str) -> requests.Response:
    return VerifiedSession(sf.ca_bundle).post(f"{sf.base_url}/services/oauth2/token", data=data, timeout=10)


def test_client_credentials_token(sf: SfClient) -> None:
    response = token_request(sf, grant_type="client_credentials", client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == sf.base_url  # the server's own base URL, from the Host header
    assert body["access_token"] and body["issued_at"].isdigit() and body["id"] and body["signature"]
    # the token works
    session = VerifiedSession(sf.ca_bundle)
    session.headers["Authorization"] = f"Bearer {body['access_token']}"
    assert session.get(f"{body['instance_url']}/services/data/v{VERSION}/limits", timeout=10).status_code == 200


def test_client_credentials_in_basic_auth_header(sf: SfClient) -> None:
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    response = VerifiedSession(sf.ca_bundle).post(
        f"{sf.base_url}/services/oauth2/token", data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"}, timeout=10)
    assert response.status_code == 200
    assert response.json()["access_token"]


def test_bad_client_secret_is_invalid_client(sf: SfClient) -> None:
    response = token_request(sf, grant_type="client_credentials", client_id=CLIENT_ID, client_secret="wrong")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_client" and body["error_description"]
    assert "access_token" not in body


def test_unknown_client_id_is_invalid_client(sf: SfClient) -> None:
    response = token_request(sf, grant_type="client_credentials", client_id="nobody", client_secret=CLIENT_SECRET)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


def test_other_grant_type_is_refused(sf: SfClient) -> None:
    response = token_request(sf, grant_type="password", client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_unknown_token_is_invalid_session(sf: SfClient) -> None:
    session = VerifiedSession(sf.ca_bundle)
    session.headers["Authorization"] = "Bearer 00Dnot-a-real-token"
    response = session.post(sf.url("/sobjects/Account"), json={"Name": "Ghost", "Customer_Key__c": "C-GHOST"},
                            timeout=10)
    assert response.status_code == 401
    assert response.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert sf.record_by("Account", "Customer_Key__c", "C-GHOST") == []


def test_missing_token_is_invalid_session(sf: SfClient) -> None:
    response = VerifiedSession(sf.ca_bundle).get(sf.url("/query"), params={"q": "SELECT Id FROM Account"},
                                                 timeout=10)
    assert_error(response, 401, "INVALID_SESSION_ID")


def test_expired_token_is_invalid_session_then_a_new_token_works(sf: SfClient) -> None:
    assert sf.get("/sobjects/Account/describe").status_code == 200
    assert sf.control("POST", "expire-tokens").json()["expired"] >= 1
    response = sf.patch("/sobjects/Account/Customer_Key__c/C-EXPIRED", {"Name": "Late"})
    assert_error(response, 401, "INVALID_SESSION_ID")
    assert sf.record_by("Account", "Customer_Key__c", "C-EXPIRED") == []
    sf.login()
    assert sf.patch("/sobjects/Account/Customer_Key__c/C-EXPIRED", {"Name": "Late"}).status_code == 201


def test_expired_token_through_simple_salesforce(sf: SfClient) -> None:
    client = Salesforce(instance_url=sf.base_url, session_id=sf.token, session=VerifiedSession(sf.ca_bundle),
                        version=VERSION)
    assert client.query("SELECT Id FROM Account LIMIT 1")["totalSize"] == 1
    sf.control("POST", "expire-tokens")
    try:
        client.query("SELECT Id FROM Account LIMIT 1")
    except SalesforceExpiredSession as error:
        assert error.status == 401
    else:
        raise AssertionError("an expired session must fail")


def test_token_ttl_expires_tokens(sf_factory) -> None:
    client = sf_factory(token_ttl=0.0).login()
    assert_error(client.get("/limits"), 401, "INVALID_SESSION_ID")
