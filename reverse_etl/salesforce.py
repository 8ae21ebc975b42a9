"""Salesforce as a reverse-ETL destination: sObject Collections for small sends, Bulk API 2.0 above
``bulk_threshold`` records, read-back by SOQL.

Matching outcomes to external IDs
---------------------------------
An outcome is only ever attached to an external ID that Salesforce itself ties to it:

* **Collections upsert** results carry an ``id`` but no external ID. Salesforce answers in request
  order, so results are first paired by position, but only when there is exactly one result per
  record sent. Then one SOQL query (``SELECT Id, <key> FROM <type> WHERE Id IN (<ids answered>)``)
  reads which external ID each answered Id really holds. A success is ``synced`` only when its Id
  holds the external ID of the record at its position. A failure carries no Id to check, so it is
  ``failed`` only when the answer is proven to be in order: every answered Id confirmed at its own
  position. Anything that cannot be confirmed (a different count, an Id holding another key, the
  check query itself failing) is ``retry``: an upsert by external ID can always be sent again.
  (The check costs one API request per 200 records; a wrong pairing would cost a wrong ledger.)
* **Collections update** (``update_only``, key ``Id``): the key is the Id, so each answered ``id``
  names its record directly; the same position rule covers results without an id.
* **Bulk API 2.0**: result files repeat the uploaded columns, the external ID column among them, so
  each row is matched by that value, never by row order. Records in neither file are ``retry``.

External ID values are compared without regard to case, as Salesforce matches them; Ids by their
case-sensitive first 15 characters (the 18-character form only adds a checksum).

A whole request that fails is ``retry`` when the failure is transient (after the connection's own
retries) and ``failed`` with Salesforce's message otherwise. Once a write has been accepted, a later
failure (reading the answer or the job results) is ``retry``: what Salesforce did is unknown, and
resending an upsert or update is harmless. The daily API allowance (403 ``REQUEST_LIMIT_EXCEEDED``)
stops the send: outcomes already known are reported, records not yet written get none, and
``SyncStopped`` is raised.
"""
from __future__ import annotations

import csv
import io
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterator, Sequence

import requests
import simplejson

from meterledger.connections.errors import DestinationError
from meterledger.connections.salesforce import SalesforceConnection
from reverse_etl.mapping import MappingError, ObjectMapping
from reverse_etl.protocol import RecordOutcome, RemoteRecord, Report, SendItem, SyncStopped

COLLECTION_SIZE = 200  # the sObject Collections maximum per request
IN_LIST_CHARS = 5000  # 200 Ids fit; a query travels in the URL, which Salesforce caps at 16,384
LIMIT_CODE = "REQUEST_LIMIT_EXCEEDED"
# What a failed request can raise once the connection has given up retrying.
REQUEST_ERRORS = (DestinationError, requests.ConnectionError, requests.Timeout)
UNMATCHED = "Salesforce's answer could not be matched to this record's external ID; sent again next run"


class SalesforceDestination:
    name = "salesforce"
    bulk_job_rows = 10_000  # rows per ingest job, so outcomes of a large send are reported per job
    bulk_timeout = 900.0  # seconds to wait for one ingest job before leaving its records to the next run

    def __init__(self, connection: SalesforceConnection, *, bulk_threshold: int = 2000,
                 bulk_poll_interval: float = 0.2) -> None:
        self.connection = connection
        self.bulk_threshold = bulk_threshold
        self.bulk_poll_interval = bulk_poll_interval

    # Sending ----------------------------------------------------------------------------------
    def send(self, mapping: ObjectMapping, items: Sequence[SendItem], report: Report) -> None:
        if mapping.mode == "update_only" and mapping.key_field != "Id":
            raise MappingError(f"{mapping.record_type}: update_only needs the key field Id, "
                               f"not {mapping.key_field}")
        if mapping.mode == "upsert" and len(items) > self.bulk_threshold:
            for start in range(0, len(items), self.bulk_job_rows):
                self._send_bulk(mapping, items[start:start + self.bulk_job_rows], report)
            return
        for start in range(0, len(items), COLLECTION_SIZE):
            self._send_collection(mapping, items[start:start + COLLECTION_SIZE], report)

    def _send_collection(self, mapping: ObjectMapping, batch: Sequence[SendItem], report: Report) -> None:
        kind, key = mapping.record_type, mapping.key_field
        if mapping.mode == "upsert":
            path = self.connection.data_path(f"/composite/sobjects/{kind}/{key}")
            # The key sent is the external ID the outcome is reported under.
            records = [{"attributes": {"type": kind}, **_plain(item.payload), key: item.external_id}
                       for item in batch]
        else:
            path = self.connection.data_path("/composite/sobjects")
            records = [{"attributes": {"type": kind},
                        **{f: v for f, v in _plain(item.payload).items() if f.lower() != "id"},
                        "id": item.external_id} for item in batch]
        try:
            response = self.connection.request(
                "PATCH", path, data=_json({"allOrNone": False, "records": records}),
                headers={"Content-Type": "application/json"})
            results = response.json()
        except REQUEST_ERRORS as error:
            return self._request_failed(batch, error, report, written=False)
        if mapping.mode == "update_only":
            owners = {item.external_id[:15]: item.external_id for item in batch}
        else:
            try:
                owners = self._owners_by_query(mapping, batch, results)
            except REQUEST_ERRORS as error:
                return self._request_failed(batch, error, report, written=True)
        report(_pair(batch, results, owners))

    def _owners_by_query(self, mapping: ObjectMapping, batch: Sequence[SendItem], results: Any) -> dict[str, str]:
        """Which sent external ID each answered Id (first 15 characters) really holds."""
        answered = [r["id"] for r in results if isinstance(r, dict) and isinstance(r.get("id"), str)] \
            if isinstance(results, list) else []
        sent = {_norm(mapping, item.external_id): item.external_id for item in batch}
        owners: dict[str, str] = {}
        for in_list in _in_lists(answered):
            soql = f"SELECT Id, {mapping.key_field} FROM {mapping.record_type} WHERE Id IN ({in_list})"
            for record in self.connection.query(soql):
                owner = sent.get(_norm(mapping, str(record.get(mapping.key_field) or "")))
                if owner is not None:
                    owners[record["Id"][:15]] = owner
        return owners

    def _send_bulk(self, mapping: ObjectMapping, items: Sequence[SendItem], report: Report) -> None:
        jobs = self.connection.data_path("/jobs/ingest")
        try:
            job = self.connection.request(
                "POST", jobs, data=_json({"object": mapping.record_type, "operation": "upsert",
                                          "externalIdFieldName": mapping.key_field, "contentType": "CSV",
                                          "lineEnding": "LF"}),
                headers={"Content-Type": "application/json"}).json()["id"]
            self.connection.request("PUT", f"{jobs}/{job}/batches", data=_csv(mapping, items),
                                    headers={"Content-Type": "text/csv"})
        except REQUEST_ERRORS as error:  # nothing written: a job that is never closed is never processed
            return self._request_failed(items, error, report, written=False)
        try:
            self.connection.request("PATCH", f"{jobs}/{job}", data=_json({"state": "UploadComplete"}),
                                    headers={"Content-Type": "application/json"})
        except REQUEST_ERRORS as error:
            # A close whose answer was lost may have gone through (the resent close then answers
            # INVALIDJOBSTATE); only the daily limit proves the job was not closed.
            limit = isinstance(error, DestinationError) and error.code == LIMIT_CODE
            return self._request_failed(items, error, report, written=not limit)
        try:
            info = self._wait_for_job(f"{jobs}/{job}")
            successful = self._result_rows(f"{jobs}/{job}/successfulResults/")
            failed = self._result_rows(f"{jobs}/{job}/failedResults/")
        except REQUEST_ERRORS as error:
            return self._request_failed(items, error, report, written=True)
        if info is None:
            return report([RecordOutcome(item.external_id, "retry", error=f"Bulk job {job} did not finish "
                                         f"within {self.bulk_timeout:.0f} s") for item in items])
        key = mapping.key_field
        found: dict[str, tuple[str, str | None, str | None]] = {}
        for row in successful:
            found.setdefault(_norm(mapping, row.get(key, "")), ("synced", row["sf__Id"], None))
        for row in failed:
            found.setdefault(_norm(mapping, row.get(key, "")), ("failed", None, _bulk_error(row["sf__Error"])))
        missing = ("retry", None, f"Bulk job {job} ended {info['state']} without a result for this record"
                   + (f": {info['errorMessage']}" if info.get("errorMessage") else ""))
        report([RecordOutcome(item.external_id, *found.get(_norm(mapping, item.external_id), missing))
                for item in items])

    def _wait_for_job(self, job_path: str) -> dict | None:
        """The job info once it is JobComplete, Failed or Aborted; None when it takes too long."""
        deadline = time.monotonic() + self.bulk_timeout
        while True:
            info = self.connection.request("GET", job_path).json()
            if info["state"] in ("JobComplete", "Failed", "Aborted"):
                return info
            if time.monotonic() > deadline:
                return None
            time.sleep(self.bulk_poll_interval)

    def _result_rows(self, path: str) -> list[dict[str, str]]:
        # Decoded as UTF-8 explicitly: requests would guess Latin-1 for text/csv without a charset.
        text = self.connection.request("GET", path).content.decode("utf-8-sig")
        return list(csv.DictReader(io.StringIO(text, newline="")))

    def _request_failed(self, items: Sequence[SendItem], error: Exception, report: Report, *,
                        written: bool) -> None:
        """Outcomes of ``items`` when a request for them raised ``error``; ``written``: Salesforce
        had already accepted the write, so only its answer is missing."""
        limit = isinstance(error, DestinationError) and error.code == LIMIT_CODE
        if limit and not written:
            raise SyncStopped(f"Salesforce daily API request limit reached: {error.message}") from error
        if isinstance(error, DestinationError):
            message = f"{error.code}: {error.message}"
            transient = error.retryable or limit
        else:
            message, transient = f"{type(error).__name__}: {error}", True
        status = "retry" if transient or written else "failed"
        report([RecordOutcome(item.external_id, status, error=message) for item in items])
        if limit:
            raise SyncStopped(f"Salesforce daily API request limit reached: {error.message}") from error

    # Reading back -----------------------------------------------------------------------------
    def read_back(self, mapping: ObjectMapping, external_ids: Sequence[str]) -> dict[str, RemoteRecord]:
        fields = list(dict.fromkeys(f.field for f in mapping.fields.values()))
        select = ", ".join(dict.fromkeys(["Id", *fields]))
        wanted = {_norm(mapping, external_id): external_id for external_id in external_ids}
        found: dict[str, RemoteRecord] = {}
        for in_list in _in_lists(list(external_ids)):
            soql = f"SELECT {select} FROM {mapping.record_type} WHERE {mapping.key_field} IN ({in_list})"
            for record in self.connection.query(soql):
                # Salesforce answers in the declared spelling, which a mapping may not use.
                by_name = {name.lower(): value for name, value in record.items()}
                external_id = wanted.get(_norm(mapping, str(by_name.get(mapping.key_field.lower()) or "")))
                if external_id is not None:
                    found[external_id] = RemoteRecord(record["Id"], {f: by_name.get(f.lower()) for f in fields})
        return found


# Pairing Collections answers ------------------------------------------------------------------
def _pair(batch: Sequence[SendItem], results: Any, owners: dict[str, str]) -> list[RecordOutcome]:
    """Outcomes of one Collections request; ``owners`` maps confirmed Ids to the external ID they hold."""
    if not isinstance(results, list) or len(results) != len(batch):
        return [RecordOutcome(item.external_id, "retry", error=UNMATCHED) for item in batch]

    def owner(result: Any) -> str | None:
        answered = result.get("id") if isinstance(result, dict) else None
        return owners.get(answered[:15]) if isinstance(answered, str) else None

    # In order: every success confirmed where it stands, and every Id we know sits at its record.
    in_order = all(owner(result) == item.external_id for item, result in zip(batch, results)
                   if _succeeded(result) or owner(result) is not None)
    outcomes = []
    for item, result in zip(batch, results):
        if _succeeded(result) and owner(result) == item.external_id:
            outcomes.append(RecordOutcome(item.external_id, "synced", remote_id=result["id"]))
        elif not _succeeded(result) and in_order:
            outcomes.append(RecordOutcome(item.external_id, "failed", error=_record_error(result)))
        else:
            outcomes.append(RecordOutcome(item.external_id, "retry", error=UNMATCHED))
    return outcomes


def _succeeded(result: Any) -> bool:
    return isinstance(result, dict) and result.get("success") is True


def _record_error(result: Any) -> str:
    errors = result.get("errors") if isinstance(result, dict) else None
    if not errors:
        return "Salesforce refused the record without an error message"
    # Real Salesforce names the code statusCode in per-record results; errorCode elsewhere.
    return "; ".join(f"{e.get('statusCode') or e.get('errorCode')}: {e.get('message')}" for e in errors)


def _bulk_error(text: str) -> str:
    """``CODE:message:fields --`` (Bulk API 2.0's sf__Error) as ``CODE: message``."""
    body = text.strip().removesuffix("--").strip()
    code, _, rest = body.partition(":")
    message = rest.rsplit(":", 1)[0] if ":" in rest else rest  # the last part names the fields
    return f"{code}: {message}" if code and message else text


# Values ---------------------------------------------------------------------------------------
def _norm(mapping: ObjectMapping, value: str) -> str:
    # Ids: the 15 case-sensitive characters; External IDs: Salesforce matches them ignoring case.
    return value[:15] if mapping.key_field.lower() == "id" else value.casefold()


def _plain(payload: dict[str, Any]) -> dict[str, Any]:
    """A reference (``{"id": ...}`` in a mapped payload) is written to Salesforce as the plain Id."""
    return {f: v["id"] if isinstance(v, dict) and set(v) == {"id"} else v for f, v in payload.items()}


def _json(body: Any) -> bytes:
    # Decimals as their exact digits, never through float.
    return simplejson.dumps(body, use_decimal=True, default=_iso).encode()


def _iso(value: Any) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _csv(mapping: ObjectMapping, items: Sequence[SendItem]) -> bytes:
    key = mapping.key_field
    columns = list(dict.fromkeys([key, *(f for item in items for f in item.payload)]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")  # minimal quoting: commas, quotes, newlines quoted
    writer.writerow(columns)
    for item in items:
        payload = _plain(item.payload)
        writer.writerow([item.external_id if column == key else _cell(payload.get(column)) for column in columns])
    return out.getvalue().encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""  # Bulk API: an empty cell leaves the field as it is
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")  # exact digits, never an exponent (1E+2)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def _in_lists(values: Sequence[str]) -> Iterator[str]:
    """Quoted, escaped SOQL ``IN`` lists of at most 200 values and about IN_LIST_CHARS characters."""
    chunk: list[str] = []
    size = 0
    for value in values:
        literal = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        if chunk and (len(chunk) == COLLECTION_SIZE or size + len(literal) > IN_LIST_CHARS):
            yield ",".join(chunk)
            chunk, size = [], 0
        chunk.append(literal)
        size += len(literal) + 1
    if chunk:
        yield ",".join(chunk)

