"""The daily API request limit: every authenticated REST call counts one; past the maximum the API
answers 403 REQUEST_LIMIT_EXCEEDED. Every response carries ``Sforce-Limit-Info: api-usage=used/max``.
Salesforce counts over a rolling 24 hours; the emulator starts a new count at each UTC midnight and
tests set the count through ``POST /_emulator/api-usage``."""
from __future__ import annotations

import threading
from datetime import datetime, timezone

from emulators.salesforce.errors import SalesforceError


class ApiUsage:
    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self._used = 0
        self._day = self._today()
        self._lock = threading.Lock()

    @staticmethod
    def _today() -> str:
        return datetime.now(timezone.utc).date().isoformat()

    def _roll(self) -> None:
        today = self._today()
        if today != self._day:
            self._day, self._used = today, 0

    def consume(self) -> None:
        """Count one request, or raise REQUEST_LIMIT_EXCEEDED (not counted) when the limit is reached."""
        with self._lock:
            self._roll()
            if self._used >= self.maximum:
                raise SalesforceError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            self._used += 1

    def set(self, used: int | None = None, maximum: int | None = None) -> None:
        with self._lock:
            self._roll()
            if maximum is not None:
                self.maximum = int(maximum)
            if used is not None:
                self._used = max(0, int(used))

    @property
    def used(self) -> int:
        with self._lock:
            self._roll()
            return self._used

    def header(self) -> str:
        with self._lock:
            self._roll()
            return f"api-usage={self._used}/{self.maximum}"

    def as_json(self) -> dict:
        with self._lock:
            self._roll()
            return {"used": self._used, "max": self.maximum, "remaining": max(0, self.maximum - self._used)}
