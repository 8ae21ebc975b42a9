"""Fault hooks: tests ask an emulator to fail its next requests the way real services do."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal, get_args

FaultKind = Literal["status", "drop", "drop_after_apply", "delay_after_apply", "delay_before"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)


@dataclass(frozen=True)
class Fault:
    """One armed failure.

    ``status``: answer with ``status`` (the emulator writes the service's own error body for it,
    naming ``error_code`` where given) and apply nothing. ``drop``: close the connection without a
    response, nothing applied. ``drop_after_apply``: apply the request, then close the connection
    without a response (the write happened, the client cannot know). ``delay_after_apply``: apply
    the request, then hold the response ``delay`` seconds, past a client's timeout.
    ``delay_before``: hold ``delay`` seconds, then serve. ``method`` / ``path_contains`` restrict
    which requests the fault applies to.
    """

    kind: FaultKind
    status: int | None = None
    error_code: str | None = None
    delay: float = 0.0
    method: str | None = None
    path_contains: str | None = None

    def applies_to(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return not (self.path_contains and self.path_contains not in path)

    @classmethod
    def from_json(cls, payload: dict) -> "Fault":
        kind = payload.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        if kind == "status" and not isinstance(payload.get("status"), int):
            raise ValueError("a status fault needs an integer 'status'")
        return cls(
            kind=kind,
            status=payload.get("status"),
            error_code=payload.get("error_code"),
            delay=float(payload.get("delay", 0)),
            method=payload.get("method"),
            path_contains=payload.get("path_contains"),
        )


class FaultQueue:
    """Armed faults, consumed in order by the requests they apply to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Fault] = []

    def arm(self, fault: Fault, count: int = 1) -> None:
        with self._lock:
            self._pending.extend([fault] * count)

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self._pending):
                if fault.applies_to(method, path):
                    return self._pending.pop(index)
        return None

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)
