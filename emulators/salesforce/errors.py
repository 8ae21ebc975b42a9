"""Salesforce error bodies: ``[{"message", "errorCode", "fields"}]`` and the exception that carries one."""
from __future__ import annotations

from emulators.common.http import Response


class SalesforceError(Exception):
    """One Salesforce error: raised inside the emulator, answered as ``status`` with the standard body."""

    def __init__(self, status: int, error_code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = list(fields or [])

    def body(self) -> list[dict]:
        return [{"message": self.message, "errorCode": self.error_code, "fields": self.fields}]

    def result_error(self) -> dict:
        """The error as a per-record result (sObject Collections, composite): real Salesforce names the
        code ``statusCode`` there; ``errorCode`` is repeated for clients that read one shape."""
        return {"statusCode": self.error_code, "errorCode": self.error_code,
                "message": self.message, "fields": self.fields}

    def bulk_error(self) -> str:
        """The ``sf__Error`` column of a Bulk API 2.0 failed-results row."""
        return f"{self.error_code}:{self.message}:{','.join(self.fields)} --"

    def response(self) -> Response:
        return Response.json(self.status, self.body())


def error_response(status: int, error_code: str, message: str, fields: list[str] | None = None) -> Response:
    return SalesforceError(status, error_code, message, fields).response()


# Constructors for the errors the emulator raises in several places ------------------------------
def invalid_field(message: str, fields: list[str] | None = None) -> SalesforceError:
    return SalesforceError(400, "INVALID_FIELD", message, fields)


def not_found(message: str = "The requested resource does not exist") -> SalesforceError:
    return SalesforceError(404, "NOT_FOUND", message)


def malformed_query(message: str) -> SalesforceError:
    return SalesforceError(400, "MALFORMED_QUERY", message)


ROLLED_BACK = SalesforceError(
    400, "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header")

# Messages for fault hooks that name only an error code.
FAULT_MESSAGES = {
    "UNABLE_TO_LOCK_ROW": "unable to obtain exclusive access to this record",
    "SERVER_UNAVAILABLE": "Server temporarily unavailable, please try again later",
    "REQUEST_LIMIT_EXCEEDED": "TotalRequests Limit exceeded.",
    "INVALID_SESSION_ID": "Session expired or invalid",
    "UNKNOWN_EXCEPTION": "An unexpected error occurred. Please include this ErrorId if you contact support",
    "REQUEST_RUNNING_TOO_LONG": "Your request was running for too long, and has been stopped.",
}

DEFAULT_FAULT_CODES = {
    400: "UNABLE_TO_LOCK_ROW",
    401: "INVALID_SESSION_ID",
    403: "REQUEST_LIMIT_EXCEEDED",
    500: "UNKNOWN_EXCEPTION",
    502: "SERVER_UNAVAILABLE",
    503: "SERVER_UNAVAILABLE",
}
