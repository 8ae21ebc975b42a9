"""NetSuite destination: SuiteBilling Usage Records in async batches, journal entries one by one.

Usage records go in batch upserts (``PUT /record/v1/usage`` with a collection of up to 100 items,
``Prefer: respond-async``). Each batch carries an ``X-NetSuite-Idempotency-Key`` derived from
its content, so resending the same batch after a timeout can never create a second job: NetSuite
answers ``IDEMPOTENCY_ERROR`` pointing at the job it already accepted, and we follow that job.
Completion is confirmed by reading the records back through SuiteQL (a page covers ten batches),
not by polling every job: under NetSuite's concurrency limit each request is a slot, and a poll
per batch would halve the throughput. Jobs are only polled for the records the read-back does
not show, to learn why a record failed.

Journal entries go one by one with ``PUT /record/v1/journalentry/eid:{externalId}?replace=line``
(the lines are replaced, never appended). A timeout or dropped connection leaves the outcome
``unknown``: the engine reads those entries back in sets (one SuiteQL query joining each
transaction to its lines per ``READ_BACK_ENTRIES``) and sends again only what NetSuite does not
hold. Errors are classified in reverse_etl/outcomes.py: a 4xx answer to one entry refuses that
entry; an error of a whole batch request is never a refusal of its records.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Sequence
from urllib.parse import quote

import requests
import simplejson

from meterledger.connections.errors import DestinationError
from meterledger.connections.netsuite import NetSuiteConnection
from reverse_etl.mapping import ObjectMapping
from reverse_etl.outcomes import REQUEST_ERRORS, classify, describe
from reverse_etl.protocol import RecordOutcome, RemoteRecord, Report, SendItem
from reverse_etl.readback import held_as_sent

log = logging.getLogger(__name__)

COLLECTION = "application/vnd.oracle.resource+json; type=collection"
BATCH_SIZE = 100
READ_BACK_CHUNK = 1000  # SuiteQL (Oracle) takes at most 1000 values in an IN list
# Records with lines are read back this many at a time, lines joined: one query's rows stay
# within a SuiteQL page (1000 rows) for entries of up to ten lines.
READ_BACK_ENTRIES = 100
# Where a sublist record's header and lines are in SuiteQL, and line fields named otherwise there.
SUBLIST_TABLES = {"journalentry": ("transaction", "transactionline")}
SUITEQL_LINE_COLUMNS = {"debit": "debitforeignamount", "credit": "creditforeignamount"}
# A read-back group waits until this many more batches were accepted after it filled: by then
# NetSuite has usually run its jobs, and a read-back that finds nothing would waste a slot.
READ_BACK_LAG_BATCHES = 5


def _json(payload: Any) -> bytes:
    return simplejson.dumps(payload, use_decimal=True).encode()


def idempotency_key(record_type: str, items: Sequence[SendItem]) -> str:
    """The same batch (same records, same content) always gets the same key, in UUID form."""
    digest = hashlib.sha256("\n".join([record_type, *(f"{item.external_id}\t{item.payload_hash}"
                                                      for item in items)]).encode()).hexdigest()
    return str(uuid.UUID(digest[:32]))


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _remote_id(location: str | None) -> str | None:
    return location.rstrip("/").rsplit("/", 1)[-1] if location else None


class NetSuiteDestination:
    name = "netsuite"

    def __init__(self, connection: NetSuiteConnection, *, concurrency: int = 4, batch_size: int = BATCH_SIZE,
                 poll_interval: float = 0.2, job_timeout: float = 600.0) -> None:
        if not 1 <= batch_size <= BATCH_SIZE:
            raise ValueError(f"NetSuite batch size {batch_size}: a batch upsert takes 1 to {BATCH_SIZE} records")
        self.connection = connection
        self.concurrency = max(1, concurrency)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.job_timeout = job_timeout

    # Sending --------------------------------------------------------------------------------
    def send(self, mapping: ObjectMapping, items: Sequence[SendItem], report: Report) -> None:
        if not items:
            return
        if mapping.sublist is not None:
            self._send_one_by_one(mapping, items, report)
        else:
            self._send_batches(mapping, items, report)

    def _send_one_by_one(self, mapping: ObjectMapping, items: Sequence[SendItem], report: Report) -> None:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = [pool.submit(self._put_record, mapping, item) for item in items]
            for future in as_completed(futures):
                report([future.result()])

    def _put_record(self, mapping: ObjectMapping, item: SendItem) -> RecordOutcome:
        path = f"/record/v1/{mapping.record_type}/eid:{quote(item.external_id, safe='')}"
        params = {"replace": mapping.sublist.name} if mapping.sublist else None
        try:
            response = self.connection.request(
                "PUT", path, params=params, data=_json(item.payload),
                headers={"Content-Type": "application/json"}, safe_to_repeat=False)
        except REQUEST_ERRORS as error:
            status = classify(error, one_record=True)
            # NetSuite's own message for a refusal (it names the field or record at fault).
            message = error.message if isinstance(error, DestinationError) and status == "failed" else describe(error)
            return RecordOutcome(item.external_id, status, error=message)
        return RecordOutcome(item.external_id, "synced", _remote_id(response.headers.get("Location")))

    def _send_batches(self, mapping: ObjectMapping, items: Sequence[SendItem], report: Report) -> None:
        """Batches and read-backs share the account's request slots: ``concurrency`` workers
        each take the next request as soon as their last one is answered, and a read-back of
        ``READ_BACK_CHUNK`` accepted records goes out between batches (once a few more batches
        have gone, so its jobs have had time to run) instead of every read-back waiting for the
        last batch. What a read-back does not confirm is read back again, and its job asked, at
        the end (``_confirm``)."""
        work = _BatchPipeline(len(items), self.batch_size)

        def worker() -> None:
            while (task := work.next_task()) is not None:
                kind, argument = task
                try:
                    if kind == "batch":
                        batch, job, failure = self._submit_range(mapping, items, argument)
                        if failure is not None:
                            report([RecordOutcome(item.external_id, *failure) for item in batch])
                        work.batch_answered(batch, job)
                        continue
                    try:
                        held = self._read_back_chunk(mapping, argument)
                    except REQUEST_ERRORS as error:
                        # The group stays pending: _confirm reads it back again at the end.
                        log.info("netsuite %s: a read-back failed (%s); retried at the end",
                                 mapping.record_type, error)
                        continue
                    report(work.confirmed(held))
                except BaseException:
                    work.abort()  # no new requests; the other workers finish theirs and stop
                    raise

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for future in [pool.submit(worker) for _ in range(self.concurrency)]:
                future.result()
        self._confirm(mapping, work.pending, work.jobs, report)

    def _submit_range(self, mapping: ObjectMapping, items: Sequence[SendItem], start: int
                      ) -> tuple[list[SendItem], str | None, tuple[str, str] | None]:
        """One batch, taken (and its payloads built) in the worker: (batch, job path, None), or
        (batch, None, (status, error)) when NetSuite did not accept it."""
        batch = list(items[start:start + self.batch_size])
        try:
            return batch, self._submit(mapping, batch), None
        except REQUEST_ERRORS as error:
            # A whole batch refused is not a refusal of its records; a lost answer after the
            # key's resends may still have made a job: unknown, read back.
            return batch, None, (classify(error, one_record=False), f"batch not accepted: {describe(error)}")

    def _submit(self, mapping: ObjectMapping, batch: list[SendItem]) -> str:
        """Submit one batch; answers the path of its job (a new one or the one its key made)."""
        headers = {"Content-Type": COLLECTION, "Prefer": "respond-async",
                   "X-NetSuite-Idempotency-Key": idempotency_key(mapping.record_type, batch)}
        try:
            # Safe to repeat after a timeout: the key makes a resend find the first job.
            response = self.connection.request("PUT", f"/record/v1/{mapping.record_type}", headers=headers,
                                               data=_json({"items": [item.payload for item in batch]}))
        except DestinationError as error:
            if error.code == "IDEMPOTENCY_ERROR" and error.location:
                return self.connection.path_of(error.location)
            raise
        return self.connection.path_of(response.headers["Location"])

    def _confirm(self, mapping: ObjectMapping, pending: dict[str, SendItem], jobs: dict[str, str],
                 report: Report) -> None:
        """Read back until every submitted record is confirmed or its job says why it is not."""
        deadline = time.monotonic() + self.job_timeout
        while pending:
            try:
                if self._confirm_held(mapping, list(pending), pending, report):
                    continue  # progress: read back again before asking the jobs
                finished = self._finished_jobs({jobs[external_id] for external_id in pending})
                # A job may have finished since the read-back: read its records once more first.
                self._confirm_held(mapping, [eid for eid in pending if jobs[eid] in finished], pending, report)
            except REQUEST_ERRORS as error:
                report([RecordOutcome(eid, "unknown", error=f"accepted by job {jobs[eid]}, not confirmed: "
                                                             f"{describe(error)}") for eid in pending])
                return
            for job, task_errors in finished.items():
                outcomes = [RecordOutcome(eid, "failed", error=task_errors[eid]) if eid in task_errors else
                            RecordOutcome(eid, "retry", error=f"job {job} finished but the record does not "
                                                              "read back as sent")
                            for eid in pending if jobs[eid] == job]
                for outcome in outcomes:
                    del pending[outcome.external_id]
                report(outcomes)
            if pending and time.monotonic() > deadline:
                report([RecordOutcome(eid, "unknown", error=f"job {jobs[eid]} not finished in time")
                        for eid in pending])
                return
            if pending:
                time.sleep(self.poll_interval)

    def _confirm_held(self, mapping: ObjectMapping, external_ids: list[str], pending: dict[str, SendItem],
                      report: Report) -> int:
        if not external_ids:
            return 0
        confirmed = held_as_sent([pending[eid] for eid in external_ids], self.read_back(mapping, external_ids))
        for outcome in confirmed:
            del pending[outcome.external_id]
        report(confirmed)
        return len(confirmed)

    def _finished_jobs(self, jobs: set[str]) -> dict[str, dict[str, str]]:
        """Of these jobs, the finished ones, each with its failed records' errors by external ID."""
        finished: dict[str, dict[str, str]] = {}
        for job in sorted(jobs):
            state = self.connection.request("GET", job).json()
            if not state.get("completed"):
                continue
            errors: dict[str, str] = {}
            if state.get("progress") == "failed":
                for task in self.connection.request("GET", f"{job}/task").json().get("items", []):
                    task_path = f"{job}/task/{task['id']}"
                    detail = self.connection.request("GET", task_path).json()
                    if detail.get("progress") != "failed":
                        continue
                    # Matched by the external ID in the task's request URI, never by position.
                    external_id = requests.utils.unquote(detail.get("requestUri", "").rsplit("eid:", 1)[-1])
                    errors[external_id] = self._task_error(f"{task_path}/result")
            finished[job] = errors
        return finished

    def _task_error(self, path: str) -> str:
        try:
            self.connection.request("GET", path)
        except DestinationError as error:
            return error.message
        return "the task failed without an error body"

    # Reading back ---------------------------------------------------------------------------
    def read_back(self, mapping: ObjectMapping, external_ids: Sequence[str]) -> dict[str, RemoteRecord]:
        """In sets: one SuiteQL query per ``READ_BACK_CHUNK`` records, or per ``READ_BACK_ENTRIES``
        records with lines (their lines joined in the same query)."""
        size, read = ((READ_BACK_ENTRIES, self._read_back_entries) if mapping.sublist is not None
                      else (READ_BACK_CHUNK, self._read_back_chunk))
        chunks = [external_ids[start:start + size] for start in range(0, len(external_ids), size)]
        held: dict[str, RemoteRecord] = {}
        # The queries share the account's request slots, so they go side by side like the batches.
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for found in pool.map(lambda chunk: read(mapping, chunk), chunks):
                held.update(found)
        return held

    def _read_back_chunk(self, mapping: ObjectMapping, external_ids: Sequence[str]) -> dict[str, RemoteRecord]:
        """Up to ``READ_BACK_CHUNK`` records in one SuiteQL query."""
        columns = sorted({field.field.lower() for field in mapping.fields.values()} | {"id", "externalid"})
        rows = self.connection.suiteql(f"SELECT {', '.join(columns)} FROM {mapping.record_type} "
                                       f"WHERE externalid IN ({', '.join(map(_quoted, external_ids))})")
        return {row["externalid"]: RemoteRecord(str(row["id"]), row) for row in rows}

    def _read_back_entries(self, mapping: ObjectMapping, external_ids: Sequence[str]) -> dict[str, RemoteRecord]:
        """Records with lines (journal entries) in one query: each header joined to its lines, the
        header's columns prefixed ``h_`` so they never collide with the lines' own (``tl.*``:
        custom line columns differ per account)."""
        sublist = mapping.sublist
        assert sublist is not None
        if mapping.record_type not in SUBLIST_TABLES:
            raise ValueError(f"{mapping.record_type}: no SuiteQL tables known to read its {sublist.name} lines back "
                             f"(known: {', '.join(SUBLIST_TABLES)})")
        header_table, line_table = SUBLIST_TABLES[mapping.record_type]
        header_fields = list(dict.fromkeys(field.field for field in mapping.fields.values()))
        columns = ", ".join(f"t.{name} AS h_{name}" for name in
                            dict.fromkeys(["id", "externalid", *(field.lower() for field in header_fields)]))
        rows = self.connection.suiteql(
            f"SELECT {columns}, tl.* FROM {header_table} t INNER JOIN {line_table} tl ON tl.transaction = t.id "
            f"WHERE t.recordtype = {_quoted(mapping.record_type)} "
            f"AND t.externalid IN ({', '.join(map(_quoted, external_ids))}) "
            "ORDER BY t.id, tl.linesequencenumber")
        line_fields = list(dict.fromkeys(field.field for field in sublist.fields.values()))
        held: dict[str, RemoteRecord] = {}
        for row in rows:
            external_id = row["h_externalid"]
            if external_id not in held:
                fields = {field: row.get(f"h_{field.lower()}") for field in header_fields}
                held[external_id] = RemoteRecord(str(row["h_id"]), {**fields, sublist.name: {"items": []}})
            held[external_id].fields[sublist.name]["items"].append(
                {field: row.get(SUITEQL_LINE_COLUMNS.get(field.lower(), field.lower())) for field in line_fields})
        return held


class _BatchPipeline:
    """What the batch workers share: the batches still to send, the accepted records waiting for
    a read-back (in groups of ``READ_BACK_CHUNK``), and the records not yet confirmed."""

    def __init__(self, count: int, batch_size: int) -> None:
        self.starts = deque(range(0, count, batch_size))
        self.jobs: dict[str, str] = {}  # external ID -> job path
        self.pending: dict[str, SendItem] = {}  # accepted, not yet confirmed
        self._filling: list[str] = []
        self._ready: deque[tuple[int, list[str]]] = deque()  # (batches accepted when it filled, group)
        self._accepted = 0
        self._batches_out = 0
        self._changed = threading.Condition()

    def next_task(self) -> tuple[str, Any] | None:
        """The next request for a free slot; None when nothing is left to do."""
        with self._changed:
            while True:
                ready, starts = self._ready, self.starts
                if ready and (not starts or self._accepted - ready[0][0] >= READ_BACK_LAG_BATCHES):
                    return "read-back", ready.popleft()[1]
                if starts:
                    self._batches_out += 1
                    return "batch", starts.popleft()
                if not self._batches_out:
                    return None
                self._changed.wait()  # a batch still out may fill one more read-back group

    def abort(self) -> None:
        """A worker failed unexpectedly: hand out nothing more (what was accepted stays
        ``sending`` in the ledger, and the next run reads it back)."""
        with self._changed:
            self.starts.clear()
            self._ready.clear()
            self._batches_out = 0
            self._changed.notify_all()

    def batch_answered(self, batch: list[SendItem], job: str | None) -> None:
        with self._changed:
            self._batches_out = max(0, self._batches_out - 1)
            if job is not None:
                self._accepted += 1
                for item in batch:
                    self.jobs[item.external_id] = job
                    self.pending[item.external_id] = item
                self._filling.extend(item.external_id for item in batch)
            last = not self.starts and not self._batches_out
            while len(self._filling) >= READ_BACK_CHUNK or (self._filling and last):
                self._ready.append((self._accepted, self._filling[:READ_BACK_CHUNK]))
                del self._filling[:READ_BACK_CHUNK]
            self._changed.notify_all()

    def confirmed(self, held: dict[str, RemoteRecord]) -> list[RecordOutcome]:
        """The outcomes of a read-back: the records NetSuite holds exactly as sent."""
        with self._changed:
            found = [self.pending[eid] for eid in held if eid in self.pending]
        outcomes = held_as_sent(found, held)
        with self._changed:
            for outcome in outcomes:
                self.pending.pop(outcome.external_id, None)
        return outcomes
