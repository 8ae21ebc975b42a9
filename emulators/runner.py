"""Start both emulators on loopback with a CA made for the run, and describe how to reach them.

The credentials are random per start: they exist only in the environment handed to clients and
in the git-ignored env file, never in the repository.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from emulators.common.server import EmulatorServer
from emulators.common.tls import create_run_certificates
from emulators.netsuite.app import NetSuiteApp
from emulators.salesforce.app import SalesforceApp

NETSUITE_ACCOUNT_ID = "1234567-sb1"
SALESFORCE_API_VERSION = "62.0"


@dataclass
class EmulatorStack:
    """Both emulators, their certificates and the environment a client needs to reach them."""

    state_dir: Path
    seed_dir: Path | None = None
    netsuite_port: int = 0
    salesforce_port: int = 0
    netsuite_concurrency: int = 5
    latency: float = 0.0  # seconds added to every service request of both emulators
    netsuite_async_delay: float = 0.1  # seconds the NetSuite async worker waits before each job
    from_seeds: bool = False  # start from the seeds, ignoring the saved state (still saved on stop)

    def __post_init__(self) -> None:
        # Absolute paths: the CA bundle path is handed to clients running anywhere.
        self.state_dir = self.state_dir.resolve()
        self.seed_dir = self.seed_dir.resolve() if self.seed_dir else None
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.certificates = create_run_certificates(self.state_dir / "tls")
        self._netsuite_secrets = {name: secrets.token_hex(32) for name in
                                  ("consumer_key", "consumer_secret", "token_id", "token_secret")}
        self._salesforce_secrets = {"client_id": secrets.token_urlsafe(24),
                                    "client_secret": secrets.token_urlsafe(32)}
        self.netsuite = NetSuiteApp(
            NETSUITE_ACCOUNT_ID, **self._netsuite_secrets,
            concurrency_limit=self.netsuite_concurrency, async_delay=self.netsuite_async_delay,
            latency=self.latency,
            seed_file=self._seed("netsuite"), state_file=self.state_dir / "netsuite-state.json",
            load_state=not self.from_seeds,
        )
        self.salesforce = SalesforceApp(
            **self._salesforce_secrets, api_version=SALESFORCE_API_VERSION, latency=self.latency,
            seed_file=self._seed("salesforce"), state_file=self.state_dir / "salesforce-state.json",
            load_state=not self.from_seeds,
        )
        self._servers: list[EmulatorServer] = []

    def _seed(self, system: str) -> Path | None:
        if self.seed_dir is None:
            return None
        path = self.seed_dir / system / "seed.json"
        return path if path.exists() else None

    def start(self) -> "EmulatorStack":
        self.netsuite_server = EmulatorServer(self.netsuite, self.certificates, port=self.netsuite_port).start()
        self.salesforce_server = EmulatorServer(self.salesforce, self.certificates,
                                                port=self.salesforce_port).start()
        self._servers = [self.netsuite_server, self.salesforce_server]
        return self

    def stop(self, save: bool = True) -> None:
        for server in self._servers:
            server.stop()
        self._servers = []
        if save:
            self.netsuite.save()
            self.salesforce.save()

    def __enter__(self) -> "EmulatorStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        """What a client needs: base URLs, the NetSuite account ID, credentials, the CA bundle."""
        ca_bundle = str(self.certificates.ca_bundle)
        return {
            "NETSUITE_BASE_URL": self.netsuite_server.base_url,
            "NETSUITE_ACCOUNT_ID": NETSUITE_ACCOUNT_ID,
            "NETSUITE_CONSUMER_KEY": self._netsuite_secrets["consumer_key"],
            "NETSUITE_CONSUMER_SECRET": self._netsuite_secrets["consumer_secret"],
            "NETSUITE_TOKEN_ID": self._netsuite_secrets["token_id"],
            "NETSUITE_TOKEN_SECRET": self._netsuite_secrets["token_secret"],
            "NETSUITE_CA_BUNDLE": ca_bundle,
            # One slot below the account's limit, so a read (SuiteQL) can run beside a push.
            "NETSUITE_CONCURRENCY": str(max(1, self.netsuite_concurrency - 1)),
            "SALESFORCE_LOGIN_URL": self.salesforce_server.base_url,
            "SALESFORCE_CLIENT_ID": self._salesforce_secrets["client_id"],
            "SALESFORCE_CLIENT_SECRET": self._salesforce_secrets["client_secret"],
            "SALESFORCE_API_VERSION": SALESFORCE_API_VERSION,
            "SALESFORCE_CA_BUNDLE": ca_bundle,
        }


def write_env_file(path: Path, environment: dict[str, str]) -> None:
    lines = ["# Written by `meterledger emulators`: how to reach the local emulators. Git-ignored;",
             "# the credentials change at every start.", *(f"{key}={value}" for key, value in environment.items())]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
