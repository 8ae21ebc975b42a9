"""Token-Based Authentication: OAuth 1.0a signed requests, verified the way NetSuite does.

Verification is oauthlib's own server side (``ResourceEndpoint``): it recomputes the HMAC-SHA256
signature over the request URL (built from the Host header), the query and the OAuth header
parameters, and consults the validator below for the consumer, the token, the nonce, the
timestamp and the realm. Any failure is NetSuite's 401 ``INVALID_LOGIN``.
"""
from __future__ import annotations

import hmac
import logging
import threading
import time

from oauthlib.oauth1 import RequestValidator, ResourceEndpoint
from oauthlib.oauth1.rfc5849 import CONTENT_TYPE_FORM_URLENCODED, SIGNATURE_HMAC_SHA256
from oauthlib.oauth1.rfc5849.utils import UNICODE_ASCII_CHARACTER_SET

from emulators.common.http import Request
from emulators.netsuite.errors import unauthorized

log = logging.getLogger(__name__)

TIMESTAMP_LIFETIME = 300
MIN_NONCE_LENGTH = 6


def realm_for(account_id: str) -> str:
    """``1234567-sb1`` -> ``1234567_SB1``: the realm NetSuite expects in the OAuth header."""
    return account_id.upper().replace("-", "_")


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


class TokenValidator(RequestValidator):
    """One integration record (consumer) and one access token, as configured for the account."""

    allowed_signature_methods = (SIGNATURE_HMAC_SHA256,)
    safe_characters = set(UNICODE_ASCII_CHARACTER_SET)
    # NetSuite keys and secrets are 64 hexadecimal characters; leave room for other lengths.
    client_key_length = (8, 128)
    access_token_length = (8, 128)
    request_token_length = (8, 128)
    nonce_length = (MIN_NONCE_LENGTH, 128)
    timestamp_lifetime = TIMESTAMP_LIFETIME
    enforce_ssl = True
    dummy_client = "dummyconsumer000"
    dummy_access_token = "dummytoken000000"
    dummy_request_token = "dummytoken000000"

    def __init__(self, consumer_key: str, consumer_secret: str, token_id: str, token_secret: str,
                 realm: str) -> None:
        super().__init__()
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.token_id = token_id
        self.token_secret = token_secret
        self.realm = realm
        self._nonces: dict[tuple[str, str, str], float] = {}
        self._lock = threading.Lock()

    def validate_client_key(self, client_key, request):
        return _same(client_key, self.consumer_key)

    def validate_access_token(self, client_key, token, request):
        return _same(client_key, self.consumer_key) and _same(token, self.token_id)

    def get_client_secret(self, client_key, request):
        return self.consumer_secret if _same(client_key, self.consumer_key) else "dummy-consumer-secret"

    def get_access_token_secret(self, client_key, token, request):
        if _same(client_key, self.consumer_key) and _same(token, self.token_id):
            return self.token_secret
        return "dummy-token-secret"

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request,
                                     request_token=None, access_token=None):
        """A nonce is good once per consumer and token while its timestamp can still be accepted."""
        now = time.time()
        key = (client_key, access_token or request_token or "", nonce)
        with self._lock:
            horizon = now - 2 * TIMESTAMP_LIFETIME
            oldest = next(iter(self._nonces.values()), None)
            if oldest is not None and oldest < horizon:  # insertion order: the first is the oldest
                self._nonces = {k: seen for k, seen in self._nonces.items() if seen >= horizon}
            if key in self._nonces:
                return False
            self._nonces[key] = now
            return True

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        return request.realm == self.realm


class TokenAuthenticator:
    def __init__(self, account_id: str, consumer_key: str, consumer_secret: str, token_id: str,
                 token_secret: str) -> None:
        self.realm = realm_for(account_id)
        self.validator = TokenValidator(consumer_key, consumer_secret, token_id, token_secret, self.realm)
        self._endpoint = ResourceEndpoint(self.validator)

    def verify(self, request: Request) -> None:
        """Raise NetSuite's 401 unless the request is signed by the configured consumer and token."""
        headers = {name: value for name, value in request.headers.items()}
        content_type = headers.get("Content-Type", "")
        # oauthlib only signs a form body; other bodies are not part of the signature.
        body = request.body.decode("utf-8", "replace") if CONTENT_TYPE_FORM_URLENCODED in content_type else ""
        try:
            valid, oauth_request = self._endpoint.validate_protected_resource_request(
                request.url, http_method=request.method, body=body, headers=headers)
        except Exception:  # malformed header values: oauthlib raises on some of them
            log.debug("TBA verification raised", exc_info=True)
            valid, oauth_request = False, None
        if not valid:
            if oauth_request is not None:
                log.info("netsuite: rejected TBA request %s %s: %s", request.method, request.path,
                         oauth_request.validator_log)
            raise unauthorized()
