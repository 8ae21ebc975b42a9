"""The NetSuite SuiteTalk REST emulator: record, SuiteQL and async services behind TBA.

Service paths (the base URL is the server root, like ``https://<account>.suitetalk.api.netsuite.com``)::

    GET/POST            /services/rest/record/v1/{type}             list / create (or a batch)
    PUT/PATCH           /services/rest/record/v1/{type}             batch (collection body, async)
    GET/PATCH/DELETE    /services/rest/record/v1/{type}/{id|eid:X}
    PUT                 /services/rest/record/v1/{type}/eid:X       upsert by external ID
    GET                 /services/rest/record/v1/{type}/{id}/{sublist}
    POST                /services/rest/query/v1/suiteql?limit=&offset=
    GET                 /services/rest/async/v1/job/{id}[/task[/{id}[/result]]]

Controls (no authentication)::

    POST /_emulator/billing {"period_start", "period_end"[, "subscriptions": [id, ...]]}
                                                             -> {"invoice_ids": [...]}
    POST /_emulator/reset                                    back to the seed, jobs forgotten
    GET  /_emulator/records/{type}                           every record of a type, as stored
    POST /_emulator/accountingperiods/{id}/close|open|lock|unlock
    POST /_emulator/save                                     write the state file
    POST /_emulator/async {"paused": true|false, "delay": s} hold / release async processing, set the
                                                             per-job worker delay -> {"paused", "delay"}
    POST|DELETE /_emulator/faults                            (common framework)
    GET|POST /_emulator/latency {"seconds": 0.1}             added latency of every service request,
                                                             held inside the concurrency gate (common)
    GET|DELETE /_emulator/requests                           request log {"requests": [{"method", "path",
                                                             "status", "write"}], "writes": N} / clear (common)

SuiteQL (``POST …/suiteql``) is a read: the request log does not count it as a write.
"""
from __future__ import annotations

import json
import logging
from collections import OrderedDict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from emulators.common.faults import Fault
from emulators.common.http import Request, Response
from emulators.common.server import EmulatorApp
from emulators.netsuite import suiteql
from emulators.netsuite.async_jobs import AsyncJobs, Job
from emulators.netsuite.auth import TokenAuthenticator, realm_for
from emulators.netsuite.billing import run_billing
from emulators.netsuite.errors import (
    DEFAULT_CODES, NetSuiteError, error_response, invalid_content, invalid_parameter, not_found, user_error,
)
from emulators.netsuite.operations import EID_PREFIX, RecordService, replace_sublists
from emulators.netsuite.records import SPECS, spec_for
from emulators.netsuite.store import Store, load_seed_file

log = logging.getLogger(__name__)

REST = "/services/rest"
RECORD = REST + "/record/v1"
JOB = REST + "/async/v1/job"
SINGULAR = "application/vnd.oracle.resource+json; type=singular-resource"
COLLECTION = "application/vnd.oracle.resource+json; type=collection"
MAX_BATCH = 100
MAX_PAGE = 1000

_TYPE = r"(?P<type>[A-Za-z_]+)"
_KEY = r"(?P<key>[^/]+)"


def _base(request: Request) -> str:
    split = urlsplit(request.url)
    return f"{split.scheme}://{split.netloc}"


def _prefer(request: Request) -> set[str]:
    return {part.strip().lower() for part in (request.headers.get("Prefer") or "").split(",") if part.strip()}


def _body(request: Request) -> Any:
    try:
        return request.json()
    except ValueError as error:
        raise invalid_content(f"The request body is not valid JSON: {error}.") from None


def _int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query_value(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_parameter(f"Invalid value for query parameter {name}: {raw}.", name) from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise invalid_parameter(f"The query parameter {name} must be {bounds}.", name)
    return value


def _guard(work: Callable[[], Response]) -> Response:
    try:
        return work()
    except NetSuiteError as error:
        return error.response()


class NetSuiteApp(EmulatorApp):
    name = "netsuite"
    read_only_posts = (rf"{REST}/query/v1/suiteql",)

    def __init__(self, account_id: str, consumer_key: str, consumer_secret: str, token_id: str,
                 token_secret: str, *, concurrency_limit: int = 5, seed_file: Path | None = None,
                 state_file: Path | None = None, load_state: bool = True, async_delay: float = 0.1,
                 latency: float = 0.0) -> None:
        """``load_state=False`` starts from the seed alone; ``save()`` still writes ``state_file``."""
        super().__init__(concurrency_limit=concurrency_limit, latency=latency)
        self.account_id = account_id
        self.realm = realm_for(account_id)
        self.auth = TokenAuthenticator(account_id, consumer_key, consumer_secret, token_id, token_secret)
        self.seed_file = Path(seed_file) if seed_file else None
        self.state_file = Path(state_file) if state_file else None
        self.store = Store()
        self.records = RecordService(self.store)
        self.jobs = AsyncJobs(delay=async_delay)
        self._query_cache: OrderedDict[tuple[str, int], list[dict]] = OrderedDict()
        if load_state and self.state_file is not None and self.state_file.exists():
            self.store.load_state(self.state_file)
        else:
            self._load_seed()
        self._routes()

    # State ----------------------------------------------------------------------------------
    def _load_seed(self) -> None:
        self.store.clear()
        if self.seed_file is not None:
            self.store.load_records(load_seed_file(self.seed_file))

    def reset(self) -> None:
        """Back to the seed (never the state file); async jobs and idempotency keys forgotten."""
        with self.store.lock:
            self._load_seed()
            self.jobs.clear()

    def save(self, path: Path | None = None) -> Path:
        target = Path(path) if path else self.state_file
        if target is None:
            raise ValueError("no state_file configured")
        self.store.save(target)
        return target

    def run_billing(self, period_start: date, period_end: date,
                    subscriptions: list[str] | None = None) -> list[str]:
        return run_billing(self.store, period_start, period_end, subscriptions)

    # Routing --------------------------------------------------------------------------------
    def _routes(self) -> None:
        add = self.router.add
        add("GET", f"{RECORD}/{_TYPE}", self._list)
        add("POST", f"{RECORD}/{_TYPE}", self._post)
        add("PUT", f"{RECORD}/{_TYPE}", lambda request: self._batch(request, "PUT"))
        add("PATCH", f"{RECORD}/{_TYPE}", lambda request: self._batch(request, "PATCH"))
        add("GET", f"{RECORD}/{_TYPE}/{_KEY}", self._get)
        add("PUT", f"{RECORD}/{_TYPE}/(?P<key>eid:[^/]+)", self._put)
        add("PATCH", f"{RECORD}/{_TYPE}/{_KEY}", self._patch)
        add("DELETE", f"{RECORD}/{_TYPE}/{_KEY}", self._delete)
        add("GET", f"{RECORD}/{_TYPE}/{_KEY}/(?P<sublist>[A-Za-z_]+)", self._get_sublist)
        add("POST", f"{REST}/query/v1/suiteql", self._suiteql)
        add("GET", rf"{JOB}/(?P<job>[^/]+)", self._job)
        add("GET", rf"{JOB}/(?P<job>[^/]+)/task", self._tasks)
        add("GET", rf"{JOB}/(?P<job>[^/]+)/task/(?P<task>[^/]+)", self._task)
        add("GET", rf"{JOB}/(?P<job>[^/]+)/task/(?P<task>[^/]+)/result", self._task_result)

        control = self.control.add
        control("POST", "/_emulator/billing", self._control_billing)
        control("POST", "/_emulator/reset", self._control_reset)
        control("GET", "/_emulator/records/(?P<type>[A-Za-z_]+)", self._control_records)
        control("POST", "/_emulator/accountingperiods/(?P<id>[^/]+)/(?P<action>close|open|lock|unlock)", self._control_period)
        control("POST", "/_emulator/save", self._control_save)
        control("POST", "/_emulator/async", self._control_async)

    def dispatch(self, request: Request) -> Response:
        if request.path.startswith(REST + "/"):
            try:
                self.auth.verify(request)
            except NetSuiteError as error:
                return error.response()
        return super().dispatch(request)

    # NetSuite's answers for the shared hooks ------------------------------------------------
    def fault_response(self, fault: Fault, request: Request) -> Response:
        status = fault.status or 500
        code = fault.error_code or DEFAULT_CODES.get(status, "UNEXPECTED_ERROR")
        details = {
            429: "Concurrent request limit exceeded. Request blocked.",
            500: "An unexpected error occurred. Error ID: emulator-injected-fault",
        }
        return error_response(status, code, details.get(status, f"Injected fault {status}."))

    def over_concurrency_response(self, request: Request) -> Response:
        return error_response(429, "CONCURRENCY_LIMIT_EXCEEDED",
                              "Concurrent request limit exceeded. Request blocked.")

    def not_found_response(self, request: Request) -> Response:
        return error_response(404, "NONEXISTENT_ID",
                              f"The requested resource {request.path} was not found.")

    def method_not_allowed_response(self, request: Request) -> Response:
        return error_response(405, "METHOD_NOT_ALLOWED",
                              f"The HTTP method {request.method} is not allowed on {request.path}.")

    def error_response(self, request: Request, error: Exception) -> Response:
        return error_response(500, "UNEXPECTED_ERROR", "An unexpected error occurred.")

    # Record service -------------------------------------------------------------------------
    @staticmethod
    def _type(request: Request) -> str:
        record_type = request.path_params["type"].lower()
        spec_for(record_type)
        return record_type

    @staticmethod
    def _key(request: Request) -> str:
        return unquote(request.path_params["key"])

    def _location(self, request: Request, record_type: str, internal_id: str) -> dict[str, str]:
        return {"Location": f"{_base(request)}{RECORD}/{record_type}/{internal_id}"}

    def _written(self, request: Request, record_type: str, internal_id: str) -> Response:
        return Response.empty(204, self._location(request, record_type, internal_id))

    def _operation(self, request: Request, work: Callable[[], Response]) -> Response:
        """Run a record request now, or as a one-task job with ``Prefer: respond-async``."""
        if "respond-async" in _prefer(request):
            return self._submit(request, [(request.url, work)])
        return _guard(work)

    def _submit(self, request: Request, units: list[tuple[str, Callable[[], Response]]]) -> Response:
        key = request.headers.get("X-NetSuite-Idempotency-Key")
        job, created = self.jobs.submit(key or None, [(uri, lambda work=work: _guard(work)) for uri, work in units])
        location = {"Location": self._job_url(request, job)}
        if not created:
            raise NetSuiteError(400, "IDEMPOTENCY_ERROR",
                                f"A request with the idempotency key {key} has already been accepted "
                                f"as job {job.id}.", title="Conflict", headers=location)
        return Response.empty(202, {**location, "Preference-Applied": "respond-async"})

    def _job_url(self, request: Request, job: Job) -> str:
        return f"{_base(request)}{JOB}/{job.id}"

    def _post(self, request: Request) -> Response:
        return _guard(lambda: self._post_inner(request))

    def _post_inner(self, request: Request) -> Response:
        record_type = self._type(request)
        if self._is_collection(request):
            return self._batch_inner(request, "POST")
        return self._operation(request, lambda: self._written(
            request, record_type, self.records.create(record_type, _body(request))))

    def _put(self, request: Request) -> Response:
        def work() -> Response:
            record_type = self._type(request)
            external_id = self._key(request)[len(EID_PREFIX):]
            replace = replace_sublists(record_type, request.query_value("replace"))
            return self._written(request, record_type,
                                 self.records.upsert(record_type, external_id, _body(request), replace))
        return _guard(lambda: self._operation(request, work))

    def _patch(self, request: Request) -> Response:
        def work() -> Response:
            record_type = self._type(request)
            replace = replace_sublists(record_type, request.query_value("replace"))
            return self._written(request, record_type,
                                 self.records.update(record_type, self._key(request), _body(request), replace))
        return _guard(lambda: self._operation(request, work))

    def _delete(self, request: Request) -> Response:
        def work() -> Response:
            self.records.delete(self._type(request), self._key(request))
            return Response.empty(204)
        return _guard(lambda: self._operation(request, work))

    def _get(self, request: Request) -> Response:
        def work() -> Response:
            record_type = self._type(request)
            record = self.records.read(record_type, self._key(request))
            expand = (request.query_value("expandSubResources") or "").lower() == "true"
            return Response.json(200, self._render(request, record_type, record, expand), content_type=SINGULAR)
        return _guard(lambda: self._operation(request, work))

    def _render(self, request: Request, record_type: str, record: dict, expand: bool) -> dict:
        self_url = f"{_base(request)}{RECORD}/{record_type}/{record['id']}"
        out: dict[str, Any] = {"links": [{"rel": "self", "href": self_url}]}
        sublists = set(SPECS[record_type].sublists)
        for name, value in record.items():
            if name in sublists:
                link = {"rel": "self", "href": f"{self_url}/{name}"}
                if expand:
                    items = value.get("items", [])
                    out[name] = {"links": [link], "count": len(items), "hasMore": False, "items": items,
                                 "offset": 0, "totalResults": len(items)}
                else:
                    out[name] = {"links": [link]}
            else:
                out[name] = value
        return out

    def _get_sublist(self, request: Request) -> Response:
        def work() -> Response:
            record_type = self._type(request)
            name = request.path_params["sublist"]
            if name not in SPECS[record_type].sublists:
                raise not_found(f"The sublist {name} does not exist on {record_type}.", name)
            record = self.records.read(record_type, self._key(request))
            items = (record.get(name) or {}).get("items", [])
            return Response.json(200, {"links": [{"rel": "self", "href": request.url}], "count": len(items),
                                       "hasMore": False, "items": items, "offset": 0,
                                       "totalResults": len(items)}, content_type=COLLECTION)
        return _guard(work)

    def _list(self, request: Request) -> Response:
        def work() -> Response:
            record_type = self._type(request)
            limit = _int_param(request, "limit", MAX_PAGE, 1, MAX_PAGE)
            offset = _int_param(request, "offset", 0, 0, None)
            with self.store.lock:
                ids = [record["id"] for record in self.store.all(record_type)]
            page = ids[offset:offset + limit]
            items = [{"links": [{"rel": "self", "href": f"{_base(request)}{RECORD}/{record_type}/{internal_id}"}],
                      "id": internal_id} for internal_id in page]
            url = f"{_base(request)}{RECORD}/{record_type}"
            return Response.json(200, self._page(request, url, items, offset, limit, len(ids)),
                                 content_type=COLLECTION)
        return _guard(work)

    @staticmethod
    def _page(request: Request, url: str, items: list, offset: int, limit: int, total: int) -> dict:
        def link(rel: str, at: int) -> dict:
            return {"rel": rel, "href": f"{url}?limit={limit}&offset={at}"}

        links = []
        if offset > 0:
            links.append(link("previous", max(0, offset - limit)))
        links.append(link("first", 0))
        if offset + len(items) < total:
            links.append(link("next", offset + limit))
        links.append(link("last", ((total - 1) // limit) * limit if total else 0))
        links.append({"rel": "self", "href": request.url})
        return {"links": links, "count": len(items), "hasMore": offset + len(items) < total, "items": items,
                "offset": offset, "totalResults": total}

    # Batches ----------------------------------------------------------------------------------
    @staticmethod
    def _is_collection(request: Request) -> bool:
        content_type = (request.headers.get("Content-Type") or "").lower().replace(" ", "")
        return "type=collection" in content_type

    def _batch(self, request: Request, method: str) -> Response:
        def work() -> Response:
            self._type(request)
            if not self._is_collection(request):
                raise user_error(f"{method} on a record collection needs the Content-Type "
                                 f"{COLLECTION} and a body of items.")
            return self._batch_inner(request, method)
        return _guard(work)

    def _batch_inner(self, request: Request, method: str) -> Response:
        record_type = self._type(request)
        if "respond-async" not in _prefer(request):
            raise user_error("Collection requests are asynchronous: send the header Prefer: respond-async.")
        body = _body(request)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
            raise invalid_content("A collection request needs a body {\"items\": [...]} of record objects.",
                                  "items")
        if len(items) > MAX_BATCH:
            raise user_error(f"A collection request can hold at most {MAX_BATCH} items; it has {len(items)}.",
                             "items")
        replace = replace_sublists(record_type, request.query_value("replace"))
        base = f"{_base(request)}{RECORD}/{record_type}"
        units: list[tuple[str, Callable[[], Response]]] = []
        for index, item in enumerate(items):
            if method == "POST":
                units.append((base, lambda item=item: self._written(
                    request, record_type, self.records.create(record_type, item))))
            elif method == "PUT":
                external_id = item.get("externalId")
                if not isinstance(external_id, str) or not external_id:
                    raise user_error("Every item of a collection PUT must carry its externalId.",
                                     f"items[{index}].externalId")
                units.append((f"{base}/{EID_PREFIX}{external_id}", lambda item=item, eid=external_id: self._written(
                    request, record_type, self.records.upsert(record_type, eid, item, replace))))
            else:
                if item.get("id") not in (None, ""):
                    key = str(item["id"])
                elif isinstance(item.get("externalId"), str) and item["externalId"]:
                    key = EID_PREFIX + item["externalId"]
                else:
                    raise user_error("Every item of a collection PATCH must carry its id or externalId.",
                                     f"items[{index}].id")
                fields = {name: value for name, value in item.items() if name != "id"}
                if key.startswith(EID_PREFIX):
                    fields.pop("externalId", None)
                units.append((f"{base}/{key}", lambda key=key, fields=fields: self._written(
                    request, record_type, self.records.update(record_type, key, fields, replace))))
        return self._submit(request, units)

    # Async jobs -------------------------------------------------------------------------------
    def _find_job(self, request: Request) -> Job:
        job = self.jobs.job(request.path_params["job"])
        if job is None:
            raise not_found(f"The job {request.path_params['job']} does not exist.", "id")
        return job

    def _job(self, request: Request) -> Response:
        def work() -> Response:
            job = self._find_job(request)
            url = self._job_url(request, job)
            return Response.json(200, {"links": [{"rel": "self", "href": url}], "completed": job.completed,
                                       "id": job.id, "progress": job.progress,
                                       "task": {"links": [{"rel": "related", "href": f"{url}/task"}]}},
                                 content_type=SINGULAR)
        return _guard(work)

    def _tasks(self, request: Request) -> Response:
        def work() -> Response:
            job = self._find_job(request)
            url = f"{self._job_url(request, job)}/task"
            items = [{"links": [{"rel": "self", "href": f"{url}/{task.id}"}], "id": task.id} for task in job.tasks]
            return Response.json(200, {"links": [{"rel": "self", "href": request.url}], "count": len(items),
                                       "hasMore": False, "items": items, "offset": 0,
                                       "totalResults": len(items)}, content_type=COLLECTION)
        return _guard(work)

    def _find_task(self, request: Request):
        job = self._find_job(request)
        task = job.task(request.path_params["task"])
        if task is None:
            raise not_found(f"The task {request.path_params['task']} does not exist in job {job.id}.", "id")
        return job, task

    def _task(self, request: Request) -> Response:
        def work() -> Response:
            job, task = self._find_task(request)
            url = f"{self._job_url(request, job)}/task/{task.id}"
            return Response.json(200, {"links": [{"rel": "self", "href": url}], "completed": task.completed,
                                       "id": task.id, "progress": task.progress, "requestUri": task.request_uri,
                                       "result": {"links": [{"rel": "related", "href": f"{url}/result"}]}},
                                 content_type=SINGULAR)
        return _guard(work)

    def _task_result(self, request: Request) -> Response:
        def work() -> Response:
            _, task = self._find_task(request)
            if task.result is None:
                raise not_found(f"The task {task.id} has not completed yet; it has no result.", "id")
            return task.result
        return _guard(work)

    # SuiteQL ------------------------------------------------------------------------------------
    def _suiteql(self, request: Request) -> Response:
        def work() -> Response:
            if "transient" not in _prefer(request):
                raise NetSuiteError(400, "INVALID_HEADER",
                                    "SuiteQL queries need the header Prefer: transient.", path="Prefer")
            limit = _int_param(request, "limit", MAX_PAGE, 1, MAX_PAGE)
            offset = _int_param(request, "offset", 0, 0, None)
            body = _body(request)
            text = body.get("q") if isinstance(body, dict) else None
            if not isinstance(text, str):
                raise invalid_content("The request body must be {\"q\": \"SELECT ...\"}.", "q")
            rows = self._query(text)
            page = [{"links": [], **row} for row in rows[offset:offset + limit]]
            url = f"{_base(request)}{REST}/query/v1/suiteql"
            return Response.json(200, self._page(request, url, page, offset, limit, len(rows)),
                                 content_type=COLLECTION)
        return _guard(work)

    def _query(self, text: str) -> list[dict]:
        """Every row of a query; kept while nothing is written, so paging reads one snapshot
        and does not evaluate the query again for each page."""
        with self.store.lock:
            key = (text, self.store.version)
            rows = self._query_cache.get(key)
            if rows is None:
                rows = suiteql.execute(self.store, text)
                self._query_cache[key] = rows
                while len(self._query_cache) > 4:
                    self._query_cache.popitem(last=False)
            return rows

    # Controls -----------------------------------------------------------------------------------
    def _control_billing(self, request: Request) -> Response:
        try:
            payload = request.json() or {}
            start = date.fromisoformat(payload["period_start"])
            end = date.fromisoformat(payload["period_end"])
            subscriptions = payload.get("subscriptions")
            if subscriptions is not None and not isinstance(subscriptions, list):
                raise TypeError("subscriptions must be a list of internal IDs")
            invoice_ids = self.run_billing(start, end, [str(item) for item in subscriptions]
                                           if subscriptions is not None else None)
        except (KeyError, TypeError, ValueError) as error:
            return Response.json(400, {"error": f"billing needs period_start and period_end: {error}"})
        return Response.json(200, {"invoice_ids": invoice_ids})

    def _control_reset(self, request: Request) -> Response:
        self.reset()
        return Response.json(200, {"reset": True})

    def _control_records(self, request: Request) -> Response:
        record_type = request.path_params["type"].lower()
        if record_type not in SPECS:
            return Response.json(404, {"error": f"unknown record type {record_type}"})
        with self.store.lock:
            items = [self.records.read(record_type, record["id"]) for record in self.store.all(record_type)]
        return Response.json(200, {"type": record_type, "count": len(items), "items": items})

    def _control_period(self, request: Request) -> Response:
        with self.store.lock:
            period = self.store.get("accountingperiod", request.path_params["id"])
            if period is None:
                return Response.json(404, {"error": "no such accounting period"})
            action = request.path_params["action"]
            if action in ("close", "open"):
                period["closed"] = action == "close"
            # Closing a period locks it first, as NetSuite's period close checklist does;
            # reopening leaves the locks for the accountant to lift.
            if action in ("close", "lock", "unlock"):
                for lock in ("allLocked", "arLocked", "apLocked"):
                    period[lock] = action != "unlock"
            self.store.replace("accountingperiod", period)
        return Response.json(200, {"id": period["id"], "closed": bool(period.get("closed")),
                                   "allLocked": bool(period.get("allLocked"))})

    def _control_save(self, request: Request) -> Response:
        try:
            path = self.save()
        except ValueError as error:
            return Response.json(400, {"error": str(error)})
        return Response.json(200, {"saved": str(path)})

    def _control_async(self, request: Request) -> Response:
        try:
            payload = request.json() or {}
        except json.JSONDecodeError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        if "delay" in payload:
            delay = payload["delay"]
            if isinstance(delay, bool) or not isinstance(delay, (int, float, Decimal)) or not 0 <= delay < 3600:
                return Response.json(400, {"error": "delay must be a number of seconds from 0 to 3600"})
            self.jobs.delay = float(delay)
        if payload.get("paused") is True:
            self.jobs.pause()
        elif payload.get("paused") is False:
            self.jobs.resume()
        return Response.json(200, {"paused": self.jobs.paused, "delay": self.jobs.delay})
