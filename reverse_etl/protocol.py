"""What the sync engine and a destination client exchange.

The engine plans and keeps the ledger; a destination only sends records and reads them back.
Outcomes are keyed by external ID, never by position, so one record's failure never hides or
shifts another's.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol, Sequence

from reverse_etl.mapping import ObjectMapping

OutcomeStatus = Literal["synced", "retry", "failed"]


@dataclass(frozen=True)
class SendItem:
    """One record to write: its external ID, the payload and the hash the ledger keeps."""

    external_id: str
    payload: dict[str, Any] = field(repr=False)
    payload_hash: str


@dataclass(frozen=True)
class RecordOutcome:
    """What became of one record.

    ``synced``: the destination holds the payload. ``retry``: the outcome is a transient failure
    (429 / 5xx / connection after the client's own retries): sent again on the next run.
    ``failed``: the destination refused the record (a business error, 4xx other than 429);
    ``error`` is the destination's own message.
    """

    external_id: str
    status: OutcomeStatus
    remote_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class RemoteRecord:
    """A record as the destination holds it, read back by external ID."""

    remote_id: str
    fields: dict[str, Any] = field(repr=False)


class SyncStopped(Exception):
    """The destination refuses more work for now (a daily API allowance spent). Raised after every
    outcome of what was sent has been reported; the rest of the plan waits for the next run."""


Report = Callable[[Sequence[RecordOutcome]], None]


class Destination(Protocol):
    name: str

    def send(self, mapping: ObjectMapping, items: Sequence[SendItem], report: Report) -> None:
        """Write ``items``; call ``report`` with outcomes as they become known (so a run killed
        midway has recorded what the destination confirmed). Every item gets exactly one outcome
        unless ``SyncStopped`` is raised."""
        ...

    def read_back(self, mapping: ObjectMapping, external_ids: Sequence[str]) -> dict[str, RemoteRecord]:
        """The records the destination holds for these external IDs (absent ones are left out)."""
        ...
