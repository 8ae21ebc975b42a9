"""HTTP sessions that verify TLS against the configured CA bundle.

requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` from the environment override a
session's own ``verify`` setting; a client pointed at a run's CA (the emulators) or at a
company's CA must not silently fall back to another trust store, so the bundle is passed on
every request instead.
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import requests
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies


class VerifiedSession(requests.Session):
    def __init__(self, ca_bundle: str | Path | None = None) -> None:
        super().__init__()
        self.ca_bundle = str(ca_bundle) if ca_bundle else None
        self._environment_proxies: dict[tuple[str, str, str], dict[str, str]] = {}

    def request(self, method, url, **kwargs):  # noqa: D102 - requests API
        if self.ca_bundle and kwargs.get("verify") in (None, True):
            kwargs["verify"] = self.ca_bundle
        return super().request(method, url, **kwargs)

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # noqa: D102 - requests API
        # requests' own version, except that the proxy variables are read once per scheme and
        # host: requests scans the whole environment on every request (~1 ms each, a good share
        # of a sync's CPU at 5 requests in flight), and a running sync's environment is fixed.
        if self.trust_env:
            no_proxy = proxies.get("no_proxy") if proxies is not None else None
            key = (*urlsplit(url)[:2], no_proxy or "")
            if key not in self._environment_proxies:
                self._environment_proxies[key] = get_environ_proxies(url, no_proxy=no_proxy)
            if proxies is not None:
                for name, value in self._environment_proxies[key].items():
                    proxies.setdefault(name, value)
            if verify is True or verify is None:
                verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
        return {"proxies": merge_setting(proxies, self.proxies), "stream": merge_setting(stream, self.stream),
                "verify": merge_setting(verify, self.verify), "cert": merge_setting(cert, self.cert)}
