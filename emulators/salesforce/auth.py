"""OAuth 2.0 client credentials: the token endpoint, bearer tokens, their expiry and the test hook."""
from __future__ import annotations

import base64
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote_plus, urlsplit

from emulators.common.http import Request, Response
from emulators.salesforce.errors import SalesforceError

ORG_ID = "00DEm0000000001EAA"
USER_ID = "005Em0000000001AAA"


@dataclass
class Token:
    value: str
    issued_at: float
    expires_at: float
    expired: bool = False


class TokenStore:
    """Access tokens issued by the token endpoint. They live ``ttl`` seconds (Salesforce's session
    timeout, 2 hours by default) or until ``expire_all`` (the test hook)."""

    def __init__(self, client_id: str, client_secret: str, ttl: float = 7200.0) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.ttl = ttl
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()

    def _credentials(self, request: Request) -> tuple[str | None, str | None, dict[str, str]]:
        form = {key: values[0] for key, values in parse_qs(request.body.decode("utf-8", "replace"),
                                                           keep_blank_values=True).items()}
        for key, values in request.query.items():  # Salesforce also reads them from the URL
            form.setdefault(key, values[0])
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        authorization = request.headers.get("Authorization") or ""
        if authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
                basic_id, _, basic_secret = decoded.partition(":")
                client_id, client_secret = unquote_plus(basic_id), unquote_plus(basic_secret)
            except (ValueError, UnicodeDecodeError):
                pass
        return client_id, client_secret, form

    def token_endpoint(self, request: Request) -> Response:
        client_id, client_secret, form = self._credentials(request)
        grant_type = form.get("grant_type")
        if grant_type != "client_credentials":
            return Response.json(400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"})
        if not (client_id and client_secret
                and hmac.compare_digest(client_id, self.client_id)
                and hmac.compare_digest(client_secret, self.client_secret)):
            return Response.json(400, {"error": "invalid_client", "error_description": "invalid client credentials"})
        now = time.time()
        value = f"{ORG_ID[:15]}!" + secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[value] = Token(value, now, now + self.ttl)
        split = urlsplit(request.url)
        instance_url = f"{split.scheme}://{split.netloc}"
        signature = base64.b64encode(hmac.new(self.client_secret.encode(), value.encode(), "sha256").digest())
        return Response.json(200, {
            "access_token": value,
            "signature": signature.decode(),
            "scope": "api",
            "instance_url": instance_url,
            "id": f"{instance_url}/id/{ORG_ID}/{USER_ID}",
            "token_type": "Bearer",
            "issued_at": str(int(now * 1000)),
        })

    def authenticate(self, request: Request) -> None:
        """Raise INVALID_SESSION_ID (401) unless the request carries a live token."""
        authorization = request.headers.get("Authorization") or ""
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        with self._lock:
            token = self._tokens.get(value) if scheme.lower() in ("bearer", "oauth") else None
            if token is None or token.expired or token.expires_at <= time.time():
                raise SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def expire_all(self) -> int:
        with self._lock:
            for token in self._tokens.values():
                token.expired = True
            return len(self._tokens)

    def revoke_all(self) -> None:
        with self._lock:
            self._tokens.clear()


def invalid_session_response() -> Response:
    # Salesforce's 401 body has no "fields".
    return Response.json(401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
