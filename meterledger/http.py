"""HTTP sessions that verify TLS against the configured CA bundle.

requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` from the environment override a
session's own ``verify`` setting; a client pointed at a run's CA (the emulators) or at a
company's CA must not silently fall back to another trust store, so the bundle is passed on
every request instead.
"""
from __future__ import annotations

from pathlib import Path

import requests


class VerifiedSession(requests.Session):
    def __init__(self, ca_bundle: str | Path | None = None) -> None:
        super().__init__()
        self.ca_bundle = str(ca_bundle) if ca_bundle else None

    def request(self, method, url, **kwargs):  # noqa: D102 - requests API
        if self.ca_bundle and kwargs.get("verify") in (None, True):
            kwargs["verify"] = self.ca_bundle
        return super().request(method, url, **kwargs)
