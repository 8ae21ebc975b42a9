"""A certificate authority made for one run, so clients verify TLS against it on loopback."""
from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class RunCertificates:
    ca_bundle: Path
    server_cert_chain: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_cert_chain, self.server_key)
        return context


def create_run_certificates(directory: Path) -> RunCertificates:
    """Create a fresh CA and a loopback server certificate, and write both as PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="meterledger emulators")
    server = ca.issue_cert("127.0.0.1", "localhost", "::1")
    ca_bundle = directory / "ca.pem"
    chain = directory / "server-chain.pem"
    key = directory / "server-key.pem"
    ca.cert_pem.write_to_path(str(ca_bundle))
    chain.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    server.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    return RunCertificates(ca_bundle=ca_bundle, server_cert_chain=chain, server_key=key)
