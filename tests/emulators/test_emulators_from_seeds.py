"""Starting the emulators from their seeds alone: a stack keeps its records across a restart
through the saved state, unless it is started ``from_seeds``; the stand-alone flags do the same."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from requests_oauthlib import OAuth1

from emulators.common.http import dumps
from emulators.netsuite import NetSuiteApp
from emulators.netsuite.auth import realm_for
from emulators.runner import EmulatorStack
from emulators.salesforce import SalesforceApp
from meterledger.http import VerifiedSession
from tests.emulators.salesforce_fixtures import ACCOUNT_1, CLIENT_ID, CLIENT_SECRET, build_seed, write_seed

REPOSITORY = Path(__file__).resolve().parents[2]
NETSUITE_SEED = {"subsidiary": [{"id": "1", "name": "Parent"}],
                 "customer": [{"id": "1", "externalId": "C0001", "companyName": "Seeded name",
                               "subsidiary": {"id": "1"}}]}


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    (tmp_path / "seeds" / "netsuite").mkdir(parents=True)
    (tmp_path / "seeds" / "netsuite" / "seed.json").write_bytes(dumps(NETSUITE_SEED))
    (tmp_path / "seeds" / "salesforce").mkdir()
    write_seed(tmp_path / "seeds" / "salesforce" / "seed.json", build_seed(usage_rows=3))
    return tmp_path / "seeds"


class Clients:
    """Signed NetSuite and authorised Salesforce requests with a running stack's environment (its
    credentials change at every start)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.session = VerifiedSession(env["NETSUITE_CA_BUNDLE"])
        self.netsuite_url = env["NETSUITE_BASE_URL"] + "/services/rest/record/v1"
        self.auth = OAuth1(env["NETSUITE_CONSUMER_KEY"], env["NETSUITE_CONSUMER_SECRET"],
                           env["NETSUITE_TOKEN_ID"], env["NETSUITE_TOKEN_SECRET"], signature_method="HMAC-SHA256",
                           realm=realm_for(env["NETSUITE_ACCOUNT_ID"]))
        token = self.session.post(f"{env['SALESFORCE_LOGIN_URL']}/services/oauth2/token", timeout=10, data={
            "grant_type": "client_credentials", "client_id": env["SALESFORCE_CLIENT_ID"],
            "client_secret": env["SALESFORCE_CLIENT_SECRET"]}).json()
        self.salesforce_url = f"{token['instance_url']}/services/data/v{env['SALESFORCE_API_VERSION']}"
        self.salesforce_headers = {"Authorization": f"Bearer {token['access_token']}"}

    def customer_name(self) -> str:
        response = self.session.get(f"{self.netsuite_url}/customer/1", auth=self.auth, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["companyName"]

    def rename_customer(self, name: str) -> None:
        response = self.session.patch(f"{self.netsuite_url}/customer/1", auth=self.auth, timeout=10,
                                      data=dumps({"companyName": name}), headers={"Content-Type": "application/json"})
        assert response.status_code == 204, response.text

    def account_name(self) -> str:
        response = self.session.get(f"{self.salesforce_url}/sobjects/Account/{ACCOUNT_1}",
                                    headers=self.salesforce_headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["Name"]

    def rename_account(self, name: str) -> None:
        response = self.session.patch(f"{self.salesforce_url}/sobjects/Account/{ACCOUNT_1}", timeout=10,
                                      data=dumps({"Name": name}),
                                      headers={**self.salesforce_headers, "Content-Type": "application/json"})
        assert response.status_code == 204, response.text


def test_a_stack_started_from_seeds_ignores_the_saved_state(tmp_path: Path, seed_dir: Path) -> None:
    state_dir = tmp_path / "state"
    with EmulatorStack(state_dir=state_dir, seed_dir=seed_dir) as stack:  # stopped with save
        clients = Clients(stack.environment())
        assert (clients.customer_name(), clients.account_name()) == ("Seeded name", "Acme Corp")
        clients.rename_customer("Changed in NetSuite")
        clients.rename_account("Changed in Salesforce")

    with EmulatorStack(state_dir=state_dir, seed_dir=seed_dir) as stack:
        clients = Clients(stack.environment())
        assert (clients.customer_name(), clients.account_name()) == ("Changed in NetSuite", "Changed in Salesforce")

    with EmulatorStack(state_dir=state_dir, seed_dir=seed_dir, from_seeds=True) as stack:
        clients = Clients(stack.environment())
        assert (clients.customer_name(), clients.account_name()) == ("Seeded name", "Acme Corp")
        clients.rename_customer("Changed again")
    # the state is still the file a from_seeds stack saves
    with EmulatorStack(state_dir=state_dir, seed_dir=seed_dir) as stack:
        clients = Clients(stack.environment())
        assert (clients.customer_name(), clients.account_name()) == ("Changed again", "Acme Corp")


def test_the_cli_from_seeds_flag(tmp_path: Path, seed_dir: Path) -> None:
    state_dir, env_file = tmp_path / "state", tmp_path / ".env.emulators"
    with EmulatorStack(state_dir=state_dir, seed_dir=seed_dir) as stack:
        Clients(stack.environment()).rename_customer("Saved name")
    process = subprocess.Popen(
        [sys.executable, "-m", "meterledger", "emulators", "--from-seeds", "--state-dir", str(state_dir),
         "--seed-dir", str(seed_dir), "--env-file", str(env_file), "--netsuite-port", "0", "--salesforce-port", "0"],
        cwd=tmp_path, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not env_file.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if not line.startswith("#"))
        assert Clients(env).customer_name() == "Seeded name"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    with EmulatorStack(state_dir=state_dir, seed_dir=seed_dir) as stack:  # saved on exit all the same
        assert Clients(stack.environment()).customer_name() == "Seeded name"


def run_stand_alone(system: str, arguments: list[str], environment: dict[str, str]) -> str:
    """Start ``python -m emulators.<system>``, read account/customer 1's name, stop it with SIGTERM
    (which saves the state); the name read."""
    process = subprocess.Popen([sys.executable, "-m", f"emulators.{system}", *arguments], cwd=REPOSITORY,
                               env={**os.environ, **environment}, stdout=subprocess.PIPE, text=True)
    try:
        started = json.loads(process.stdout.readline())
        session = VerifiedSession(started["ca_bundle"])
        if system == "netsuite":
            auth = OAuth1(*(environment[f"NETSUITE_{name}"] for name in
                            ("CONSUMER_KEY", "CONSUMER_SECRET", "TOKEN_ID", "TOKEN_SECRET")),
                          signature_method="HMAC-SHA256", realm=realm_for(environment["NETSUITE_ACCOUNT_ID"]))
            response = session.get(f"{started['base_url']}/services/rest/record/v1/customer/1", auth=auth,
                                   timeout=10)
            assert response.status_code == 200, response.text
            return response.json()["companyName"]
        token = session.post(f"{started['base_url']}/services/oauth2/token", timeout=10, data={
            "grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}).json()
        response = session.get(f"{token['instance_url']}/services/data/v62.0/sobjects/Account/{ACCOUNT_1}",
                               headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["Name"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


@pytest.mark.parametrize("system", ["netsuite", "salesforce"])
def test_the_stand_alone_from_seed_flag(system: str, tmp_path: Path, seed_dir: Path) -> None:
    seed, state = seed_dir / system / "seed.json", tmp_path / "state.json"
    environment = {"NETSUITE_ACCOUNT_ID": "1234567", **{f"NETSUITE_{name}": secrets.token_hex(32) for name in
                                                        ("CONSUMER_KEY", "CONSUMER_SECRET", "TOKEN_ID", "TOKEN_SECRET")}}
    # A saved state in which the record has another name.
    if system == "netsuite":
        app = NetSuiteApp("1234567", "k", "s", "t", "ts", seed_file=seed, state_file=state)
        app.records.update("customer", "1", {"companyName": "Saved name"}, set())
        seeded = "Seeded name"
    else:
        app = SalesforceApp(CLIENT_ID, CLIENT_SECRET, seed_file=seed, state_file=state)
        app.store.update("Account", ACCOUNT_1, {"Name": "Saved name"})
        seeded = "Acme Corp"
    app.save()
    arguments = ["--seed", str(seed), "--state", str(state), "--cert-dir", str(tmp_path / "tls")]
    if system == "salesforce":
        arguments += ["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET]

    assert run_stand_alone(system, arguments, environment) == "Saved name"
    assert run_stand_alone(system, [*arguments, "--from-seed"], environment) == seeded
    # the seed's name was saved on exit: the next ordinary start reads it from the state
    assert run_stand_alone(system, arguments, environment) == seeded
