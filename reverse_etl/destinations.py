"""The destination calls the sync engine needs: upsert a batch of records by external ID.

Each destination returns one outcome per record, keyed by external ID, so a failure of one
record never hides the others.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import simplejson

from meterledger.connections.errors import DestinationError
from meterledger.connections.netsuite import NetSuiteConnection
from meterledger.connections.salesforce import SalesforceConnection


@dataclass(frozen=True)
class RecordOutcome:
    external_id: str
    ok: bool
    remote_id: str | None = None
    error: str | None = None
    retryable: bool = False


class Destination(Protocol):
    name: str

    def upsert(self, record_type: str, key_field: str, payloads: dict[str, dict[str, Any]]) -> list[RecordOutcome]:
        ...


def _json(payload: Any) -> bytes:
    return simplejson.dumps(payload, use_decimal=True).encode()


class NetSuiteDestination:
    """Upserts by ``PUT /record/v1/{type}/eid:{externalId}``: a resend never makes a second record."""

    name = "netsuite"

    def __init__(self, connection: NetSuiteConnection, concurrency: int = 4) -> None:
        self.connection = connection
        self.concurrency = concurrency

    def _upsert_one(self, record_type: str, external_id: str, payload: dict[str, Any]) -> RecordOutcome:
        try:
            response = self.connection.request(
                "PUT", f"/record/v1/{record_type}/eid:{external_id}",
                data=_json(payload), headers={"Content-Type": "application/json"},
            )
        except DestinationError as error:
            return RecordOutcome(external_id, False, error=str(error), retryable=error.retryable)
        location = response.headers.get("Location", "")
        return RecordOutcome(external_id, True, remote_id=location.rstrip("/").rsplit("/", 1)[-1] or None)

    def upsert(self, record_type: str, key_field: str, payloads: dict[str, dict[str, Any]]) -> list[RecordOutcome]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = [pool.submit(self._upsert_one, record_type, external_id, payload)
                       for external_id, payload in payloads.items()]
            return [future.result() for future in futures]


class SalesforceDestination:
    """Upserts through sObject Collections, 200 records a request, allOrNone false."""

    name = "salesforce"
    batch_size = 200

    def __init__(self, connection: SalesforceConnection) -> None:
        self.connection = connection

    def upsert(self, record_type: str, key_field: str, payloads: dict[str, dict[str, Any]]) -> list[RecordOutcome]:
        items = list(payloads.items())
        outcomes: list[RecordOutcome] = []
        for start in range(0, len(items), self.batch_size):
            batch = items[start:start + self.batch_size]
            body = {"allOrNone": False,
                    "records": [{"attributes": {"type": record_type}, **payload} for _, payload in batch]}
            try:
                response = self.connection.request(
                    "PATCH", self.connection.data_path(f"/composite/sobjects/{record_type}/{key_field}"),
                    data=_json(body), headers={"Content-Type": "application/json"},
                )
            except DestinationError as error:
                outcomes += [RecordOutcome(ext, False, error=str(error), retryable=error.retryable)
                             for ext, _ in batch]
                continue
            # Collections answer in request order, one result per record sent.
            for (external_id, _), result in zip(batch, response.json(), strict=True):
                if result.get("success"):
                    outcomes.append(RecordOutcome(external_id, True, remote_id=result.get("id")))
                else:
                    message = "; ".join(f"{e.get('statusCode') or e.get('errorCode')}: {e.get('message')}"
                                        for e in result.get("errors", []))
                    outcomes.append(RecordOutcome(external_id, False, error=message))
        return outcomes
