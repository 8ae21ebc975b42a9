"""NetSuite's error documents (RFC 9457 problem details with ``o:errorDetails``)."""
from __future__ import annotations

from emulators.common.http import Response

ERROR_CONTENT_TYPE = "application/vnd.oracle.resource+json; type=error"

_RFC9110 = "https://www.rfc-editor.org/rfc/rfc9110.html#section-"
STATUS_TYPES: dict[int, tuple[str, str]] = {
    400: (_RFC9110 + "15.5.1", "Bad Request"),
    401: (_RFC9110 + "15.5.2", "Unauthorized"),
    403: (_RFC9110 + "15.5.4", "Forbidden"),
    404: (_RFC9110 + "15.5.5", "Not Found"),
    405: (_RFC9110 + "15.5.6", "Method Not Allowed"),
    415: (_RFC9110 + "15.5.16", "Unsupported Media Type"),
    429: ("https://www.rfc-editor.org/rfc/rfc6585.html#section-4", "Too Many Requests"),
    500: (_RFC9110 + "15.6.1", "Internal Server Error"),
    502: (_RFC9110 + "15.6.3", "Bad Gateway"),
    503: (_RFC9110 + "15.6.4", "Service Unavailable"),
    504: (_RFC9110 + "15.6.5", "Gateway Timeout"),
}

# The default ``o:errorCode`` for an injected fault of a given status.
DEFAULT_CODES = {
    400: "USER_ERROR",
    401: "INVALID_LOGIN",
    403: "INSUFFICIENT_PERMISSION",
    404: "NONEXISTENT_ID",
    429: "CONCURRENCY_LIMIT_EXCEEDED",
    500: "UNEXPECTED_ERROR",
    503: "SERVICE_UNAVAILABLE",
}

INVALID_LOGIN_DETAIL = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
    "Setup > Users/Roles > User Management > View Login Audit Trail."
)


def error_body(status: int, code: str, detail: str, path: str | None = None,
               title: str | None = None) -> dict:
    type_url, default_title = STATUS_TYPES.get(status, (_RFC9110 + "15", "Error"))
    entry: dict = {"detail": detail, "o:errorCode": code}
    if path:
        entry["o:errorPath"] = path
    return {"type": type_url, "title": title or default_title, "status": status,
            "o:errorDetails": [entry]}


def error_response(status: int, code: str, detail: str, path: str | None = None,
                   title: str | None = None, headers: dict[str, str] | None = None) -> Response:
    return Response.json(status, error_body(status, code, detail, path, title), headers=headers,
                         content_type=ERROR_CONTENT_TYPE)


class NetSuiteError(Exception):
    """Raised anywhere in the emulator; turned into NetSuite's error response."""

    def __init__(self, status: int, code: str, detail: str, *, path: str | None = None,
                 title: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.path = path
        self.title = title
        self.headers = headers or {}

    def response(self) -> Response:
        return error_response(self.status, self.code, self.detail, self.path, self.title, self.headers)


def user_error(detail: str, path: str | None = None) -> NetSuiteError:
    return NetSuiteError(400, "USER_ERROR", detail, path=path)


def invalid_content(detail: str, path: str | None = None) -> NetSuiteError:
    return NetSuiteError(400, "INVALID_CONTENT", detail, path=path)


def invalid_parameter(detail: str, path: str | None = None) -> NetSuiteError:
    return NetSuiteError(400, "INVALID_PARAMETER", detail, path=path)


def not_found(detail: str, path: str | None = None) -> NetSuiteError:
    return NetSuiteError(404, "NONEXISTENT_ID", detail, path=path)


def unauthorized() -> NetSuiteError:
    return NetSuiteError(401, "INVALID_LOGIN", INVALID_LOGIN_DETAIL)
