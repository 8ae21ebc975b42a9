"""What the sync engine and a destination client exchange.

The engine plans and keeps the ledger; a destination only sends records and reads them back.
Outcomes are keyed by external ID, never by position, so one record's failure never hides or
shifts another's.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol, Sequence

from reverse_etl.mapping import ObjectMapping

OutcomeStatus = Literal["synced", "retry", "unknown", "failed"]


@dataclass(frozen=True)
class SendItem:
    """One record to write: its external ID, the payload and the hash the ledger keeps."""

    external_id: str
    payload: dict[str, Any] = field(repr=False)
    payload_hash: str


@dataclass(frozen=True)
class RecordOutcome:
    """What became of one record.

    ``synced``: the destination holds the payload. ``retry``: not done and safe to send again
    (429 / 5xx, a connection never made, an error of the whole request or job): sent again on the
    next run. ``unknown``: the write may or may not have been applied (its answer was lost): the
    engine reads the record back before anything is sent again. ``failed``: the destination
    refused this record; only this counts toward dead-lettering. ``error`` is the destination's
    own message (reverse_etl/outcomes.py classifies).
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
