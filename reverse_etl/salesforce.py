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
  position. Anything that cannot be confirmed (a different count, an Id holding another key) is
  ``retry``: an upsert by external ID can always be sent again. (The check costs one API request
  per 200 records; a wrong pairing would cost a wrong ledger.)
* **Collections update** (``update_only``, key ``Id``): the key is the Id, so each answered ``id``
  names its record directly; the same position rule covers results without an id.
* **Bulk API 2.0**: result files repeat the uploaded columns, the external ID column among them, so
  each row is matched by that value, never by row order.

External ID values are compared without regard to case, as Salesforce matches them; Ids by their
case-sensitive first 15 characters (the 18-character form only adds a checksum).

When a request fails (reverse_etl/outcomes.py)
----------------------------------------------
A write whose answer was lost (or whose confirming query failed) is ``unknown``: the engine reads
those records back before anything is sent again. An error of a whole Collections request or of a
Bulk job is never a refusal of one record: ``retry``. Only a record's own line in an answer (a
Collections result, a Bulk failed-results row) is ``failed``. The daily API allowance (403
``REQUEST_LIMIT_EXCEEDED``) stops the send: outcomes already known are reported, records not yet
written get none, and ``SyncStopped`` is raised.

A Bulk job's state is the source of truth when an answer is lost. Salesforce takes one upload per
job: a second upload is accepted and then the close is refused ("Found multiple contents for
job"), so an upload is never sent twice. After a lost upload answer the job is closed and its
results decide: a job that had the data processes it; one that did not ends without a result for
any record, and the records go in a new job. A close whose answer was lost is settled by reading
the job: closed means it went through; still open means it is closed again. A job refused or
unusable is aborted and its records go in a new job, at most ``BULK_JOB_ATTEMPTS`` jobs.
"""
from __future__ import annotations

import csv
import io
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterator, Sequence

import simplejson

from meterledger.connections.errors import DestinationError
from meterledger.connections.salesforce import SalesforceConnection
from reverse_etl.mapping import MappingError, ObjectMapping
from reverse_etl.outcomes import REQUEST_ERRORS, classify, describe
from reverse_etl.protocol import RecordOutcome, RemoteRecord, Report, SendItem, SyncStopped

COLLECTION_SIZE = 200  # the sObject Collections maximum per request
IN_LIST_CHARS = 5000  # 200 Ids fit; a query travels in the URL, which Salesforce caps at 16,384
LIMIT_CODE = "REQUEST_LIMIT_EXCEEDED"
BULK_JOB_ATTEMPTS = 3  # jobs tried for the same records before they are left to the next run
CLOSE_ATTEMPTS = 3  # closes sent to one job whose answers were lost
UNMATCHED = "Salesforce's answer could not be matched to this record's external ID; sent again next run"


def _limit(error: BaseException) -> bool:
    return isinstance(error, DestinationError) and error.code == LIMIT_CODE


def _stopped(error: BaseException) -> SyncStopped:
    return SyncStopped(f"Salesforce daily API request limit reached: {error.message}")  # type: ignore[attr-defined]


class SalesforceDestination:
    name = "salesforce"
    bulk_job_rows = 10_000  # rows per ingest job, so outcomes of a large send are reported per job
    bulk_timeout = 900.0  # seconds to wait for one ingest job before leaving its records in doubt

    def __init__(self, connection: SalesforceConnection, *, bulk_threshold: int = 2000,
                 bulk_poll_interval: float = 0.2, batch_size: int = COLLECTION_SIZE) -> None:
        if not 1 <= batch_size <= COLLECTION_SIZE:
            raise ValueError(f"Salesforce batch size {batch_size}: sObject Collections take 1 to {COLLECTION_SIZE}")
        self.connection = connection
        self.bulk_threshold = bulk_threshold
        self.bulk_poll_interval = bulk_poll_interval
        self.batch_size = batch_size

    # Sending ----------------------------------------------------------------------------------
    def send(self, mapping: ObjectMapping, items: Sequence[SendItem], report: Report) -> None:
        if mapping.mode == "update_only" and mapping.key_field != "Id":
            raise MappingError(f"{mapping.record_type}: update_only needs the key field Id, "
                               f"not {mapping.key_field}")
        if mapping.mode == "upsert" and len(items) > self.bulk_threshold:
            for start in range(0, len(items), self.bulk_job_rows):
                self._send_bulk(mapping, items[start:start + self.bulk_job_rows], report)
            return
        for start in range(0, len(items), self.batch_size):
            self._send_collection(mapping, items[start:start + self.batch_size], report)

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
                headers={"Content-Type": "application/json"}, safe_to_repeat=False)
            results = response.json()
        except REQUEST_ERRORS as error:
            if _limit(error):
                raise _stopped(error) from error
            return _report_all(report, batch, classify(error, one_record=False), describe(error))
        if mapping.mode == "update_only":
            owners = {item.external_id[:15]: item.external_id for item in batch}
        else:
            try:
                owners = self._owners_by_query(mapping, batch, results)
            except REQUEST_ERRORS as error:
                # Written, but which record is which is unknown: read back before resending.
                _report_all(report, batch, "unknown", describe(error))
                if _limit(error):
                    raise _stopped(error) from error
                return
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

    # Bulk API 2.0 -----------------------------------------------------------------------------
    def _send_bulk(self, mapping: ObjectMapping, items: Sequence[SendItem], report: Report) -> None:
        reason = ""
        for _ in range(BULK_JOB_ATTEMPTS):
            items, reason = self._bulk_job(mapping, items, report)
            if not items:
                return
        _report_all(report, items, "retry", f"{reason}; left for the next run after {BULK_JOB_ATTEMPTS} jobs")

    def _bulk_job(self, mapping: ObjectMapping, items: Sequence[SendItem], report: Report
                  ) -> tuple[Sequence[SendItem], str]:
        """One ingest job for ``items``. Reports what the job settled; answers the records to
        send again in a new job (none when each has its outcome) and why."""
        jobs = self.connection.data_path("/jobs/ingest")
        try:
            # Safe to repeat: a job whose creation answer was lost holds no data and is never processed.
            job = self.connection.request(
                "POST", jobs, data=_json({"object": mapping.record_type, "operation": "upsert",
                                          "externalIdFieldName": mapping.key_field, "contentType": "CSV",
                                          "lineEnding": "LF"}),
                headers={"Content-Type": "application/json"}).json()["id"]
        except REQUEST_ERRORS as error:
            if _limit(error):
                raise _stopped(error) from error
            _report_all(report, items, "retry", describe(error))  # no job, nothing written
            return [], ""
        path = f"{jobs}/{job}"
        try:
            self.connection.request("PUT", f"{path}/batches", data=_csv(mapping, items),
                                    headers={"Content-Type": "text/csv"}, safe_to_repeat=False)
            data_in_doubt = False
        except REQUEST_ERRORS as error:
            if _limit(error):  # refused, so the job holds no data and is never processed
                raise _stopped(error) from error
            if classify(error, one_record=False) != "unknown":
                self._abort(path)
                _report_all(report, items, "retry", f"Bulk job {job} refused the upload: {describe(error)}")
                return [], ""
            data_in_doubt = True  # the job's results say whether the data arrived
        try:
            closed = self._close(path)
        except REQUEST_ERRORS as error:
            if _limit(error):  # the close was refused: the job is never processed
                raise _stopped(error) from error
            _report_all(report, items, "unknown", f"Bulk job {job}: {describe(error)}")  # its state unread
            return [], ""
        if not closed:
            self._abort(path)
            return items, f"Bulk job {job} could not be closed; aborted"
        try:
            info = self._wait_for_job(path)
            successful = self._result_rows(f"{path}/successfulResults/")
            failed = self._result_rows(f"{path}/failedResults/")
        except REQUEST_ERRORS as error:
            _report_all(report, items, "unknown", f"Bulk job {job}: {describe(error)}")
            return [], ""
        if info is None:
            _report_all(report, items, "unknown", f"Bulk job {job} did not finish within {self.bulk_timeout:.0f} s")
            return [], ""
        key = mapping.key_field
        found: dict[str, tuple[str, str | None, str | None]] = {}
        for row in successful:
            found.setdefault(_norm(mapping, row.get(key, "")), ("synced", row["sf__Id"], None))
        for row in failed:
            found.setdefault(_norm(mapping, row.get(key, "")), ("failed", None, _bulk_error(row["sf__Error"])))
        detail = f": {info['errorMessage']}" if info.get("errorMessage") else ""
        if data_in_doubt and not found:  # the lost upload never arrived
            return items, f"Bulk job {job} ended {info['state']} after its upload's answer was lost{detail}"
        # A record without a result in a job that ended is not done: a job-level error, never a refusal.
        missing = ("retry", None, f"Bulk job {job} ended {info['state']} without a result for this record{detail}")
        report([RecordOutcome(item.external_id, *found.get(_norm(mapping, item.external_id), missing))
                for item in items])
        return [], ""

    def _close(self, path: str) -> bool:
        """Close the job: True once it is closed (by this call or by an earlier one whose answer
        was lost), False when it stays open (the close refused): the caller aborts it."""
        for _ in range(CLOSE_ATTEMPTS):
            try:
                self.connection.request("PATCH", path, data=_json({"state": "UploadComplete"}),
                                        headers={"Content-Type": "application/json"}, safe_to_repeat=False)
                return True
            except REQUEST_ERRORS as error:
                if _limit(error):
                    raise
                refused = classify(error, one_record=False) != "unknown"
            if self.connection.request("GET", path).json()["state"] != "Open":
                return True
            if refused:
                return False
        return False

    def _abort(self, path: str) -> None:
        """Best effort: an open job nobody closes is never processed either."""
        try:
            self.connection.request("PATCH", path, data=_json({"state": "Aborted"}),
                                    headers={"Content-Type": "application/json"})
        except REQUEST_ERRORS:
            pass

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


def _report_all(report: Report, items: Sequence[SendItem], status: str, error: str) -> None:
    report([RecordOutcome(item.external_id, status, error=error) for item in items])  # type: ignore[arg-type]


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

