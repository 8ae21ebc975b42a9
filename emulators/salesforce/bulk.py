"""Bulk API 2.0 ingest jobs: create, upload one CSV, close, poll, read the three result files.

Salesforce takes one upload per job, but does not refuse a second one (Salesforce StackExchange
231917): every ``PUT`` to an open job answers 201, and the close of a job holding more than one
content is refused (400 ``INVALIDJOB`` "Found multiple contents for job: …"), the job staying
``Open`` (it can still be aborted). A job closed without any content is processed and fails with
"No data was uploaded" (an assumption: the documentation does not say).

A closed job goes ``UploadComplete`` → ``InProgress`` → ``JobComplete`` (or ``Failed`` when the CSV
header names a field the object lacks, ``Aborted`` on request). A worker thread processes it after
``step_delay`` seconds per step; reading the job info also moves a closed job to ``InProgress``, so
a poller always sees that state. Rows are applied in chunks of 200 under the store lock, each row on
its own (one bad row fails alone). Result files are CSV with every value quoted.
"""
from __future__ import annotations

import csv
import io
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

from emulators.salesforce import ids
from emulators.salesforce.auth import USER_ID
from emulators.salesforce.errors import SalesforceError
from emulators.salesforce.schema import object_def
from emulators.salesforce.store import MultipleMatches, Store

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
TERMINAL = ("JobComplete", "Failed", "Aborted")
CHUNK = 200


def job_error(message: str, code: str = "INVALIDJOB") -> SalesforceError:
    return SalesforceError(400, code, message)


@dataclass
class IngestJob:
    id: str
    object: str
    operation: str
    external_id_field: str | None
    line_ending: str
    column_delimiter: str
    version: str
    created: str
    state: str = "Open"
    modstamp: str = ""
    contents: list[bytes] = field(default_factory=list)  # every upload: the close refuses more than one
    header: list[str] = field(default_factory=list)
    successful: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    error_message: str | None = None
    processing_ms: int = 0
    cancelled: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def data(self) -> bytes | None:
        """The CSV to process: the one upload, None when there is none or more than one."""
        return self.contents[0] if len(self.contents) == 1 else None

    def info(self) -> dict:
        payload = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": USER_ID,
            "createdDate": self.created,
            "systemModstamp": self.modstamp or self.created,
            "state": self.state,
            "externalIdFieldName": self.external_id_field,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": Decimal(self.version),
            "jobType": "V2Ingest",
            "contentUrl": f"services/data/v{self.version}/jobs/ingest/{self.id}/batches",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
            "numberRecordsProcessed": len(self.successful) + len(self.failed),
            "numberRecordsFailed": len(self.failed),
            "retries": 0,
            "totalProcessingTime": self.processing_ms,
            "apiActiveProcessingTime": self.processing_ms,
            "apexProcessingTime": 0,
        }
        if self.error_message:
            payload["errorMessage"] = self.error_message
        return payload


class BulkJobs:
    def __init__(self, store: Store, step_delay: float = 0.2) -> None:
        self.store = store
        self.step_delay = step_delay
        self._jobs: dict[str, IngestJob] = {}
        self._lock = threading.Lock()

    # Job lifecycle ------------------------------------------------------------------------
    def create(self, payload: dict, version: str) -> IngestJob:
        if not isinstance(payload, dict):
            raise job_error("InvalidJob : the job definition must be a JSON object", "JSON_PARSER_ERROR")
        definition = object_def(str(payload.get("object") or ""))
        if definition is None:
            raise job_error(f"InvalidJob : Invalid object: {payload.get('object')}")
        operation = payload.get("operation")
        if operation not in OPERATIONS:
            raise job_error(f"InvalidJob : Invalid operation: {operation}")
        if (payload.get("contentType") or "CSV") != "CSV":
            raise job_error(f"InvalidJob : Unsupported content type: {payload.get('contentType')}")
        line_ending = payload.get("lineEnding") or "LF"
        if line_ending not in ("LF", "CRLF"):
            raise job_error(f"InvalidJob : Invalid lineEnding: {line_ending}")
        delimiter = payload.get("columnDelimiter") or "COMMA"
        if delimiter not in DELIMITERS:
            raise job_error(f"InvalidJob : Invalid columnDelimiter: {delimiter}")
        external = payload.get("externalIdFieldName")
        if operation == "upsert":
            if not external:
                raise job_error("InvalidJob : External ID was blank for an upsert job")
            external_field = definition.field(external)
            if external_field is None or not (external_field.external_id or external_field.name == "Id"):
                raise job_error(f"InvalidJob : Field name provided, {external} is not an External ID or indexed "
                                f"field for {definition.name}")
            external = external_field.name
        else:
            external = None
        with self.store.lock:
            stamp = self.store.clock.tick()
        job = IngestJob(id=ids.opaque_id("750"), object=definition.name, operation=operation,
                        external_id_field=external, line_ending=line_ending, column_delimiter=delimiter,
                        version=version, created=stamp)
        with self._lock:
            self._jobs[job.id] = job
        return job

    def get(self, job_id: str) -> IngestJob:
        with self._lock:
            job = self._jobs.get(job_id) or self._jobs.get(ids.to_18(job_id) or "")
        if job is None:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def all(self) -> list[IngestJob]:
        with self._lock:
            return list(self._jobs.values())

    def upload(self, job_id: str, body: bytes) -> None:
        job = self.get(job_id)
        with job.lock:
            if job.state != "Open":
                raise job_error(f"Job {job.id} is not open for uploads (state {job.state})", "INVALIDJOBSTATE")
            if not body.strip():
                raise job_error("InvalidBatch : the CSV is empty", "INVALIDBATCH")
            job.contents.append(body)

    def change_state(self, job_id: str, state: str) -> IngestJob:
        job = self.get(job_id)
        with job.lock:
            if state == "UploadComplete":
                if job.state != "Open":
                    raise job_error(f"Job {job.id} cannot be closed from state {job.state}", "INVALIDJOBSTATE")
                if len(job.contents) > 1:
                    raise job_error(f"Found multiple contents for job: {job.id}, please 'Close' / 'Abort' / "
                                    "'Delete' the current Job then create a new Job and make sure you only do "
                                    "'PUT' once on a given Job.")
                job.state = "UploadComplete"
                job.modstamp = self._stamp()
                threading.Thread(target=self._work, args=(job,), name=f"bulk-{job.id}", daemon=True).start()
            elif state == "Aborted":
                if job.state in TERMINAL:
                    raise job_error(f"Job {job.id} is already {job.state}", "INVALIDJOBSTATE")
                job.state = "Aborted"
                job.modstamp = self._stamp()
                job.header, rows = self._rows(job)
                job.unprocessed = rows
            else:
                raise job_error(f"Invalid state for a job update: {state}", "INVALIDJOBSTATE")
        return job

    def poll(self, job_id: str) -> IngestJob:
        job = self.get(job_id)
        with job.lock:
            if job.state == "UploadComplete":
                job.state = "InProgress"
                job.modstamp = self._stamp()
        return job

    def delete(self, job_id: str) -> None:
        job = self.get(job_id)
        with job.lock:
            if job.state in ("UploadComplete", "InProgress"):
                raise job_error(f"Job {job.id} is {job.state} and cannot be deleted", "INVALIDJOBSTATE")
            job.cancelled = True
        with self._lock:
            self._jobs.pop(job.id, None)

    def clear(self) -> None:
        with self._lock:
            for job in self._jobs.values():
                job.cancelled = True
            self._jobs.clear()

    def _stamp(self) -> str:
        with self.store.lock:
            return self.store.clock.tick()

    # Results -------------------------------------------------------------------------------
    def results(self, job_id: str, kind: str) -> str:
        job = self.get(job_id)
        with job.lock:
            if kind == "successfulResults":
                header, rows = ["sf__Id", "sf__Created", *job.header], job.successful
            elif kind == "failedResults":
                header, rows = ["sf__Id", "sf__Error", *job.header], job.failed
            else:
                header, rows = list(job.header), job.unprocessed
            if not job.header and job.data is not None:
                header = header + self._rows(job)[0]
            out = io.StringIO()
            writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n" if job.line_ending == "CRLF" else "\n")
            writer.writerow(header)
            writer.writerows(rows)
            return out.getvalue()

    # Processing ----------------------------------------------------------------------------
    def _rows(self, job: IngestJob) -> tuple[list[str], list[list[str]]]:
        if job.data is None:
            return [], []
        text = job.data.decode("utf-8-sig")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[job.column_delimiter])
        rows = [row for row in reader if row and any(cell.strip() for cell in row)]
        if not rows:
            return [], []
        return rows[0], rows[1:]

    def _work(self, job: IngestJob) -> None:
        try:
            time.sleep(self.step_delay)
            with job.lock:
                if job.cancelled or job.state not in ("UploadComplete", "InProgress"):
                    return
                job.state = "InProgress"
                job.modstamp = self._stamp()
            time.sleep(self.step_delay)
            started = time.monotonic()
            self._process(job)
            with job.lock:
                job.processing_ms = int((time.monotonic() - started) * 1000)
        except Exception as error:  # never leave a job InProgress for ever
            with job.lock:
                job.state = "Failed"
                job.error_message = f"InternalServerError : {error}"
                job.modstamp = self._stamp()

    def _process(self, job: IngestJob) -> None:
        with job.lock:
            if job.cancelled or job.state != "InProgress":
                return
            header, rows = self._rows(job)
            job.header = header
        definition = object_def(job.object)
        assert definition is not None
        problem = self._header_problem(job, header)
        if problem:
            with job.lock:
                job.state, job.error_message = "Failed", problem
                job.unprocessed = rows
                job.modstamp = self._stamp()
            return
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            with job.lock:
                if job.cancelled or job.state != "InProgress":
                    job.unprocessed.extend(rows[start:])
                    return
            outcomes = []
            with self.store.lock:
                for row in chunk:
                    outcomes.append(self._apply(job, header, row))
            with job.lock:
                for row, (record_id, created, error) in zip(chunk, outcomes):
                    if error is None:
                        job.successful.append([record_id, "true" if created else "false", *row])
                    else:
                        job.failed.append([record_id or "", error, *row])
        with job.lock:
            if job.state == "InProgress":
                job.state = "JobComplete"
                job.modstamp = self._stamp()

    def _header_problem(self, job: IngestJob, header: list[str]) -> str | None:
        definition = object_def(job.object)
        assert definition is not None
        if not header:
            return "InvalidBatch : No data was uploaded"
        lowered = [column.strip().lower() for column in header]
        for column in header:
            name = column.strip()
            base, _, sub = name.partition(".")
            if definition.field(base) is not None and not sub:
                continue
            if sub and definition.relationship(base) is not None:
                continue
            return f"InvalidBatch : Field name not found : {name}"
        if job.operation in ("update", "delete", "hardDelete") and "id" not in lowered:
            return "InvalidBatch : The Id field is required for update and delete jobs"
        if job.operation == "upsert" and (job.external_id_field or "").lower() not in lowered:
            return f"InvalidBatch : Field name not found : {job.external_id_field}"
        return None

    def _apply(self, job: IngestJob, header: list[str], row: list[str]) -> tuple[str | None, bool, str | None]:
        if len(row) != len(header):
            return None, False, (f"INVALID_FIELD:Row has {len(row)} columns but the header has "
                                 f"{len(header)}: --")
        body = {column.strip(): value for column, value in zip(header, row)}
        record_id = None
        try:
            if job.operation == "insert":
                return self.store.create(job.object, body, source="csv"), True, None
            if job.operation == "upsert":
                external = job.external_id_field or ""
                value = next(v for k, v in body.items() if k.lower() == external.lower())
                if external == "Id":
                    body = {k: v for k, v in body.items() if k.lower() != "id"}
                return (*self.store.upsert(job.object, external, value, body, source="csv"), None)
            record_id = next(v for k, v in body.items() if k.lower() == "id")
            if job.operation == "update":
                body = {k: v for k, v in body.items() if k.lower() != "id"}
                return self.store.update(job.object, record_id, body, source="csv"), False, None
            self.store.delete(job.object, record_id)
            return ids.to_18(record_id) or record_id, False, None
        except SalesforceError as error:
            if error.error_code == "NOT_FOUND" and record_id:
                error = SalesforceError(400, "INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {record_id}")
            return record_id, False, error.bulk_error()
        except MultipleMatches as error:
            return None, False, (f"DUPLICATE_EXTERNAL_ID:{job.external_id_field}: more than one record found "
                                 f"for external id field: {error.record_ids}:{job.external_id_field} --")
