"""The Salesforce REST API emulator: routes, authentication, limits, fault bodies and test controls.

Endpoints are described in docs/salesforce-emulator.md. Every ``/services/data/vNN.N/...`` call
needs a bearer token from ``POST /services/oauth2/token`` and counts against the daily API limit.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

from emulators.common.faults import Fault
from emulators.common.http import Request, Response
from emulators.common.server import EmulatorApp
from emulators.salesforce import ids, soql
from emulators.salesforce.auth import TokenStore, invalid_session_response
from emulators.salesforce.bulk import BulkJobs
from emulators.salesforce.errors import (
    DEFAULT_FAULT_CODES, FAULT_MESSAGES, ROLLED_BACK, SalesforceError, error_response, not_found,
)
from emulators.salesforce.limits import ApiUsage
from emulators.salesforce.schema import OBJECTS, ObjectDef, object_def, object_for_prefix
from emulators.salesforce.store import MultipleMatches, Store, not_supported

log = logging.getLogger(__name__)

API = r"/services/data/v(?P<version>\d+\.\d)"
MAX_COLLECTION = 200
PAGE_SIZE = 2000
MAX_CURSORS = 200


class SalesforceApp(EmulatorApp):
    name = "salesforce"
    read_only_posts = (r"/services/oauth2/token",)  # the request log does not count a token as a write

    def __init__(self, client_id: str, client_secret: str, *, api_version: str = "62.0",
                 daily_api_limit: int = 100_000, seed_file: Path | None = None, state_file: Path | None = None,
                 load_state: bool = True, token_ttl: float = 7200.0, bulk_step_delay: float = 0.2,
                 concurrency_limit: int | None = None, latency: float = 0.0) -> None:
        """``load_state=False`` starts from the seed alone; ``save()`` still writes ``state_file``."""
        super().__init__(concurrency_limit=concurrency_limit, latency=latency)
        self.api_version = api_version
        self.seed_file = Path(seed_file) if seed_file else None
        self.state_file = Path(state_file) if state_file else None
        self.store = Store()
        self.tokens = TokenStore(client_id, client_secret, ttl=token_ttl)
        self.usage = ApiUsage(daily_api_limit)
        self.bulk = BulkJobs(self.store, step_delay=bulk_step_delay)
        self._cursors: OrderedDict[str, list[dict]] = OrderedDict()
        self._cursor_lock = threading.Lock()
        if load_state and self.state_file and self.state_file.exists():
            self.store.load_file(self.state_file)
        elif self.seed_file:
            self.store.load_file(self.seed_file)
        self._routes()
        self._controls()

    # Persistence ---------------------------------------------------------------------------
    def save(self, path: Path | None = None) -> Path:
        """Write every record (and the id counters and clock) to ``path`` or the state file."""
        target = Path(path) if path else self.state_file
        if target is None:
            raise ValueError("no state_file configured and no path given")
        self.store.save(target)
        return target

    def reset(self) -> None:
        """Back to the seed (or empty): records, API usage, bulk jobs, query cursors, faults."""
        if self.seed_file:
            self.store.load_file(self.seed_file)
        else:
            self.store.clear()
        self.usage.set(used=0)
        self.bulk.clear()
        with self._cursor_lock:
            self._cursors.clear()
        self.faults.clear()

    # Framework hooks -----------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/services/data/v"):
            try:
                self.tokens.authenticate(request)
            except SalesforceError:
                return invalid_session_response()
            try:
                self.usage.consume()
            except SalesforceError as error:
                return error.response()
        return super().dispatch(request)

    def error_response(self, request: Request, error: Exception) -> Response:
        if isinstance(error, SalesforceError):
            if error.error_code == "INVALID_SESSION_ID":
                return invalid_session_response()
            return error.response()
        if isinstance(error, MultipleMatches):
            return Response.json(300, [self._record_url(request, error.object_name, record_id)
                                       for record_id in error.record_ids])
        log.error("salesforce emulator: %s %s failed: %r", request.method, request.path, error)
        return error_response(500, "UNKNOWN_EXCEPTION", f"An unexpected error occurred: {error!r}")

    def fault_response(self, fault: Fault, request: Request) -> Response:
        status = fault.status or 500
        code = fault.error_code or DEFAULT_FAULT_CODES.get(status, "UNKNOWN_EXCEPTION")
        if code == "INVALID_SESSION_ID":
            return invalid_session_response() if status == 401 else error_response(status, code, FAULT_MESSAGES[code])
        return error_response(status, code, FAULT_MESSAGES.get(code, f"injected fault {code}"))

    def over_concurrency_response(self, request: Request) -> Response:
        return error_response(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")

    def not_found_response(self, request: Request) -> Response:
        return not_found().response()

    def method_not_allowed_response(self, request: Request) -> Response:
        return error_response(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{request.method}' not allowed.")

    def decorate(self, request: Request, response: Response) -> Response:
        response.headers.setdefault("Sforce-Limit-Info", self.usage.header())
        return response

    # Helpers -------------------------------------------------------------------------------
    def _version(self, request: Request) -> str:
        version = request.path_params.get("version") or self.api_version
        if float(version) > float(self.api_version) or float(version) < 20.0:
            raise not_found()
        return version

    def _record_url(self, request: Request, object_name: str, record_id: str) -> str:
        version = request.path_params.get("version") or self.api_version
        return f"/services/data/v{version}/sobjects/{object_name}/{record_id}"

    @staticmethod
    def _object(request: Request) -> ObjectDef:
        name = request.path_params["object"]
        definition = object_def(name)
        if definition is None:
            raise not_supported(name)
        return definition

    @staticmethod
    def _json(request: Request) -> Any:
        try:
            return request.json()
        except ValueError as error:
            raise SalesforceError(400, "JSON_PARSER_ERROR", f"Unexpected content in the request body: {error}") \
                from None

    # Routes --------------------------------------------------------------------------------
    def _guard(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """Answer the API's own errors (raised by handlers) without the framework's error log."""
        def guarded(request: Request) -> Response:
            try:
                return handler(request)
            except (SalesforceError, MultipleMatches) as error:
                return self.error_response(request, error)
        return guarded

    def _routes(self) -> None:
        def add(method: str, pattern: str, handler: Callable[[Request], Response]) -> None:
            self.router.add(method, pattern, self._guard(handler))
        add("POST", r"/services/oauth2/token", self.tokens.token_endpoint)
        add("GET", r"/services/data/?", self._versions)
        add("GET", API + r"/?", self._resources)
        add("GET", API + r"/limits/?", self._limits)
        add("GET", API + r"/sobjects/?", self._describe_global)
        add("GET", API + r"/sobjects/(?P<object>\w+)/?", self._object_info)
        add("POST", API + r"/sobjects/(?P<object>\w+)/?", self._create)
        add("GET", API + r"/sobjects/(?P<object>\w+)/describe/?", self._describe)
        add("GET", API + r"/sobjects/(?P<object>\w+)/(?P<record_id>[^/]+)/?", self._get_record)
        add("PATCH", API + r"/sobjects/(?P<object>\w+)/(?P<record_id>[^/]+)/?", self._update)
        add("DELETE", API + r"/sobjects/(?P<object>\w+)/(?P<record_id>[^/]+)/?", self._delete)
        add("GET", API + r"/sobjects/(?P<object>\w+)/(?P<field>\w+)/(?P<value>[^/]+)/?", self._get_by_external_id)
        add("PATCH", API + r"/sobjects/(?P<object>\w+)/(?P<field>\w+)/(?P<value>[^/]+)/?", self._upsert)
        add("DELETE", API + r"/sobjects/(?P<object>\w+)/(?P<field>\w+)/(?P<value>[^/]+)/?",
            self._delete_by_external_id)
        for endpoint, include_deleted in (("query", False), ("queryAll", True)):
            add("GET", API + rf"/{endpoint}/?", self._query_handler(include_deleted))
            add("GET", API + rf"/{endpoint}/(?P<locator>01g[0-9A-Za-z]+)-(?P<offset>\d+)/?", self._query_more)
        add("POST", API + r"/composite/sobjects/?", self._collection_create)
        add("PATCH", API + r"/composite/sobjects/?", self._collection_update)
        add("DELETE", API + r"/composite/sobjects/?", self._collection_delete)
        add("PATCH", API + r"/composite/sobjects/(?P<object>\w+)/(?P<field>\w+)/?", self._collection_upsert)
        add("POST", API + r"/jobs/ingest/?", self._job_create)
        add("GET", API + r"/jobs/ingest/?", self._job_list)
        add("GET", API + r"/jobs/ingest/(?P<job>\w+)/?", self._job_info)
        add("PATCH", API + r"/jobs/ingest/(?P<job>\w+)/?", self._job_state)
        add("DELETE", API + r"/jobs/ingest/(?P<job>\w+)/?", self._job_delete)
        add("PUT", API + r"/jobs/ingest/(?P<job>\w+)/batches/?", self._job_upload)
        add("GET", API + r"/jobs/ingest/(?P<job>\w+)/(?P<kind>successfulResults|failedResults|unprocessedrecords)/?",
            self._job_results)

    # Discovery -----------------------------------------------------------------------------
    def _versions(self, request: Request) -> Response:
        return Response.json(200, [{"label": "Winter '25", "url": f"/services/data/v{self.api_version}",
                                    "version": self.api_version}])

    def _resources(self, request: Request) -> Response:
        version = self._version(request)
        base = f"/services/data/v{version}"
        return Response.json(200, {name: f"{base}/{name}" for name in
                                   ("sobjects", "query", "queryAll", "composite", "jobs", "limits")})

    def _limits(self, request: Request) -> Response:
        self._version(request)
        usage = self.usage.as_json()
        return Response.json(200, {"DailyApiRequests": {"Max": usage["max"], "Remaining": usage["remaining"]}})

    def _describe_global(self, request: Request) -> Response:
        version = self._version(request)
        return Response.json(200, {"encoding": "UTF-8", "maxBatchSize": MAX_COLLECTION, "sobjects": [
            {key: value for key, value in definition.describe(version).items() if key != "fields"}
            for definition in OBJECTS.values()]})

    def _object_info(self, request: Request) -> Response:
        version = self._version(request)
        definition = self._object(request)
        summary = {key: value for key, value in definition.describe(version).items() if key != "fields"}
        return Response.json(200, {"objectDescribe": summary, "recentItems": []})

    def _describe(self, request: Request) -> Response:
        return Response.json(200, self._object(request).describe(self._version(request)))

    # Records -------------------------------------------------------------------------------
    def _render(self, request: Request, definition: ObjectDef, record: dict) -> dict:
        version = self._version(request)
        fields = None
        wanted = request.query_value("fields")
        if wanted:
            fields = []
            for name in wanted.split(","):
                field = definition.field(name.strip())
                if field is None:
                    raise SalesforceError(400, "INVALID_FIELD", f"No such column '{name.strip()}' on sobject "
                                                                f"of type {definition.name}", [name.strip()])
                fields.append(field.name)
        return self.store.render(definition.name, record, version, fields)

    def _get_record(self, request: Request) -> Response:
        definition = self._object(request)
        record = self.store.get(definition.name, request.path_params["record_id"], include_deleted=True)
        if record is None:
            raise not_found()
        if record["IsDeleted"]:
            raise SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return Response.json(200, self._render(request, definition, record))

    def _get_by_external_id(self, request: Request) -> Response:
        definition = self._object(request)
        field = self._external_field(definition, request.path_params["field"])
        matches = self.store.find_by_external_id(definition.name, field, request.path_params["value"])
        if not matches:
            raise not_found()
        if len(matches) > 1:
            raise MultipleMatches(definition.name, matches)
        return Response.json(200, self._render(request, definition, self.store.get(definition.name, matches[0])))

    @staticmethod
    def _external_field(definition: ObjectDef, name: str) -> str:
        field = definition.field(name)
        if field is None or not (field.external_id or field.name == "Id"):
            raise SalesforceError(404, "NOT_FOUND",
                                  f"Provided external ID field does not exist or is not accessible: {name}")
        return field.name

    def _create(self, request: Request) -> Response:
        self._version(request)
        definition = self._object(request)
        body = self._json(request)
        self._check_type(definition, body)
        record_id = self.store.create(definition.name, body)
        return Response.json(201, {"id": record_id, "success": True, "errors": []})

    def _update(self, request: Request) -> Response:
        self._version(request)
        definition = self._object(request)
        body = self._json(request)
        self._check_type(definition, body)
        self.store.update(definition.name, request.path_params["record_id"], body)
        return Response.empty(204)

    def _delete(self, request: Request) -> Response:
        self._version(request)
        definition = self._object(request)
        self.store.delete(definition.name, request.path_params["record_id"])
        return Response.empty(204)

    def _delete_by_external_id(self, request: Request) -> Response:
        self._version(request)
        definition = self._object(request)
        field = self._external_field(definition, request.path_params["field"])
        with self.store.lock:
            matches = self.store.find_by_external_id(definition.name, field, request.path_params["value"])
            if not matches:
                raise not_found()
            if len(matches) > 1:
                raise MultipleMatches(definition.name, matches)
            self.store.delete(definition.name, matches[0])
        return Response.empty(204)

    def _upsert(self, request: Request) -> Response:
        self._version(request)
        definition = self._object(request)
        body = self._json(request)
        self._check_type(definition, body)
        record_id, created = self.store.upsert(definition.name, request.path_params["field"],
                                               request.path_params["value"], body)
        return Response.json(201 if created else 200,
                             {"id": record_id, "success": True, "errors": [], "created": created})

    @staticmethod
    def _check_type(definition: ObjectDef, body: Any) -> None:
        if not isinstance(body, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        declared = (body.get("attributes") or {}).get("type") if isinstance(body.get("attributes"), dict) else None
        if declared and declared.lower() != definition.name.lower():
            raise SalesforceError(400, "INVALID_TYPE",
                                  f"attributes.type {declared} does not match the object {definition.name}")

    # Queries -------------------------------------------------------------------------------
    def _query_handler(self, include_deleted: bool) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            version = self._version(request)
            text = request.query_value("q")
            if text is None:
                raise SalesforceError(400, "MALFORMED_QUERY", "A query string has to be specified")
            total, records = soql.run(text, self.store, version, include_deleted=include_deleted)
            return Response.json(200, self._page(request, version, total, records, 0, self._batch_size(request)))
        return handle

    @staticmethod
    def _batch_size(request: Request) -> int:
        options = request.headers.get("Sforce-Query-Options") or ""
        for part in options.split(","):
            name, _, value = part.strip().partition("=")
            if name.strip().lower() == "batchsize" and value.strip().isdigit():
                return min(PAGE_SIZE, max(200, int(value)))
        return PAGE_SIZE

    def _page(self, request: Request, version: str, total: int, records: list[dict], offset: int,
              size: int, locator: str | None = None) -> dict:
        page = records[offset:offset + size]
        done = offset + size >= len(records)
        payload: dict[str, Any] = {"totalSize": total, "done": done, "records": page}
        if not done:
            if locator is None:
                locator = ids.opaque_id("01g")
                with self._cursor_lock:
                    self._cursors[locator] = records
                    while len(self._cursors) > MAX_CURSORS:
                        self._cursors.popitem(last=False)
            endpoint = "queryAll" if "/queryAll" in request.path else "query"
            payload["nextRecordsUrl"] = f"/services/data/v{version}/{endpoint}/{locator}-{offset + size}"
        return payload

    def _query_more(self, request: Request) -> Response:
        version = self._version(request)
        locator = request.path_params["locator"]
        offset = int(request.path_params["offset"])
        with self._cursor_lock:
            records = self._cursors.get(locator)
            if records is not None:
                self._cursors.move_to_end(locator)
        if records is None:
            raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return Response.json(200, self._page(request, version, len(records), records, offset,
                                             self._batch_size(request), locator))

    # sObject Collections -------------------------------------------------------------------
    def _collection_payload(self, request: Request) -> tuple[list, bool]:
        self._version(request)
        body = self._json(request)
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "The request body needs a 'records' list")
        records = body["records"]
        if len(records) > MAX_COLLECTION:
            raise SalesforceError(400, "EXCEEDED_ID_LIMIT",
                                  f"record limit reached. cannot submit more than {MAX_COLLECTION} records "
                                  "into this call")
        all_or_none = body.get("allOrNone", False)
        if not isinstance(all_or_none, bool):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "allOrNone must be true or false")
        return records, all_or_none

    def _run_collection(self, items: list, all_or_none: bool, apply: Callable[[int, Any], dict],
                        id_of: Callable[[Any], str | None] | None = None) -> Response:
        """Apply each item in order; with allOrNone, one failure rolls every write back."""
        results: list[dict] = []
        with self.store.transaction():
            for index, item in enumerate(items):
                try:
                    results.append(apply(index, item))
                except SalesforceError as error:
                    result = {"success": False, "errors": [error.result_error()]}
                    if id_of is not None and id_of(item):
                        result = {"id": id_of(item), **result}
                    results.append(result)
                except MultipleMatches as error:
                    results.append({"success": False, "errors": [SalesforceError(
                        300, "DUPLICATE_EXTERNAL_ID",
                        f"more than one record found for the external ID value: {error.record_ids}").result_error()]})
            if all_or_none and any(not result["success"] for result in results):
                self.store.rollback()
                rolled = []
                for result in results:
                    if result["success"]:
                        entry = {"success": False, "errors": [ROLLED_BACK.result_error()]}
                        if "created" in result and not result["created"]:
                            entry = {"id": result["id"], **entry}
                        rolled.append(entry)
                    else:
                        rolled.append(result)
                results = rolled
        return Response.json(200, results)

    @staticmethod
    def _record_type(item: Any, expected: str | None = None) -> ObjectDef:
        if not isinstance(item, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "Each record must be a JSON object")
        attributes = item.get("attributes")
        declared = attributes.get("type") if isinstance(attributes, dict) else None
        if not declared:
            raise SalesforceError(400, "INVALID_TYPE", "Each record needs attributes.type")
        definition = object_def(declared)
        if definition is None:
            raise SalesforceError(400, "INVALID_TYPE", f"sObject type '{declared}' is not supported.")
        if expected and definition.name != expected:
            raise SalesforceError(400, "INVALID_TYPE",
                                  f"attributes.type {declared} does not match the object {expected} in the URL")
        return definition

    def _collection_upsert(self, request: Request) -> Response:
        definition = self._object(request)
        field = definition.field(request.path_params["field"])
        if field is None or not (field.external_id or field.name == "Id"):
            raise SalesforceError(400, "INVALID_FIELD",
                                  f"Field name provided, {request.path_params['field']} is not an External ID or "
                                  f"indexed field for {definition.name}", [request.path_params["field"]])
        records, all_or_none = self._collection_payload(request)

        def value_of(item: Any) -> Any:
            if not isinstance(item, dict):
                return None
            return next((value for key, value in item.items() if key.lower() == field.name.lower()), None)

        seen: dict[str, int] = {}
        for item in records:
            value = value_of(item)
            if value not in (None, ""):
                key = str(value).casefold()
                seen[key] = seen.get(key, 0) + 1

        def apply(index: int, item: Any) -> dict:
            self._record_type(item, definition.name)
            value = value_of(item)
            if value in (None, ""):
                raise SalesforceError(400, "MISSING_ARGUMENT",
                                      f"{field.name} not specified: an upsert needs the External ID value in "
                                      "each record", [field.name])
            if seen.get(str(value).casefold(), 0) > 1:
                raise SalesforceError(400, "DUPLICATE_EXTERNAL_ID",
                                      f"Duplicate external id specified: {value}", [field.name])
            body = item
            if field.name == "Id":
                body = {key: v for key, v in item.items() if key.lower() != "id"}
            record_id, created = self.store.upsert(definition.name, field.name, value, body)
            return {"id": record_id, "success": True, "errors": [], "created": created}

        return self._run_collection(records, all_or_none, apply)

    def _collection_create(self, request: Request) -> Response:
        records, all_or_none = self._collection_payload(request)

        def apply(index: int, item: Any) -> dict:
            definition = self._record_type(item)
            if any(key.lower() == "id" for key in item):
                raise SalesforceError(400, "INVALID_FIELD", "Id cannot be set when creating records", ["Id"])
            return {"id": self.store.create(definition.name, item), "success": True, "errors": []}

        return self._run_collection(records, all_or_none, apply)

    def _collection_update(self, request: Request) -> Response:
        records, all_or_none = self._collection_payload(request)

        def apply(index: int, item: Any) -> dict:
            definition = self._record_type(item)
            record_id = next((value for key, value in item.items() if key.lower() == "id"), None)
            if not isinstance(record_id, str) or ids.to_18(record_id) is None:
                raise SalesforceError(400, "MALFORMED_ID", f"malformed id {record_id}", ["Id"])
            body = {key: value for key, value in item.items() if key.lower() != "id"}
            self.store.update(definition.name, record_id, body)
            return {"id": ids.to_18(record_id), "success": True, "errors": [], "created": False}

        def id_of(item: Any) -> str | None:
            if not isinstance(item, dict):
                return None
            value = next((v for key, v in item.items() if key.lower() == "id"), None)
            return (ids.to_18(value) or value) if isinstance(value, str) else None

        return self._run_collection(records, all_or_none, apply, id_of)

    def _collection_delete(self, request: Request) -> Response:
        self._version(request)
        raw_ids = [value for value in (request.query_value("ids") or "").split(",") if value]
        if len(raw_ids) > MAX_COLLECTION:
            raise SalesforceError(400, "EXCEEDED_ID_LIMIT",
                                  f"record limit reached. cannot submit more than {MAX_COLLECTION} records "
                                  "into this call")
        all_or_none = (request.query_value("allOrNone") or "false").lower() == "true"

        def apply(index: int, record_id: str) -> dict:
            normalized = ids.to_18(record_id)
            definition = object_for_prefix(normalized[:3]) if normalized else None
            if definition is None:
                raise SalesforceError(400, "MALFORMED_ID", f"malformed id {record_id}", [])
            self.store.delete(definition.name, normalized)
            return {"id": normalized, "success": True, "errors": [], "created": False}

        return self._run_collection(raw_ids, all_or_none, apply, lambda value: ids.to_18(value) or value)

    # Bulk API 2.0 --------------------------------------------------------------------------
    def _job_create(self, request: Request) -> Response:
        version = self._version(request)
        job = self.bulk.create(self._json(request), version)
        return Response.json(200, job.info())

    def _job_list(self, request: Request) -> Response:
        self._version(request)
        return Response.json(200, {"done": True, "records": [job.info() for job in self.bulk.all()],
                                   "nextRecordsUrl": None})

    def _job_info(self, request: Request) -> Response:
        self._version(request)
        return Response.json(200, self.bulk.poll(request.path_params["job"]).info())

    def _job_state(self, request: Request) -> Response:
        self._version(request)
        body = self._json(request)
        if not isinstance(body, dict) or not isinstance(body.get("state"), str):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "The body must be {\"state\": ...}")
        return Response.json(200, self.bulk.change_state(request.path_params["job"], body["state"]).info())

    def _job_delete(self, request: Request) -> Response:
        self._version(request)
        self.bulk.delete(request.path_params["job"])
        return Response.empty(204)

    def _job_upload(self, request: Request) -> Response:
        self._version(request)
        self.bulk.upload(request.path_params["job"], request.body)
        return Response.empty(201)

    def _job_results(self, request: Request) -> Response:
        self._version(request)
        text = self.bulk.results(request.path_params["job"], request.path_params["kind"])
        return Response.text(200, text, content_type="text/csv")

    # Controls ------------------------------------------------------------------------------
    def _controls(self) -> None:
        def safe(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
            def wrapped(request: Request) -> Response:
                try:
                    return handler(request)
                except Exception as error:  # a control must answer, not drop the connection
                    log.exception("salesforce emulator control %s failed", request.path)
                    return Response.json(400 if isinstance(error, (ValueError, TypeError)) else 500,
                                         {"error": str(error)})
            return wrapped

        add = self.control.add
        add("POST", r"/_emulator/expire-tokens", safe(self._control_expire))
        add("POST", r"/_emulator/reset", safe(self._control_reset))
        add("GET", r"/_emulator/api-usage", safe(lambda request: Response.json(200, self.usage.as_json())))
        add("POST", r"/_emulator/api-usage", safe(self._control_usage))
        add("GET", r"/_emulator/records/(?P<object>\w+)", safe(self._control_records))
        add("GET", r"/_emulator/state", safe(self._control_state))
        add("POST", r"/_emulator/save", safe(self._control_save))

    def _control_expire(self, request: Request) -> Response:
        return Response.json(200, {"expired": self.tokens.expire_all()})

    def _control_reset(self, request: Request) -> Response:
        body = request.json() or {}
        self.reset()
        if body.get("tokens"):
            self.tokens.revoke_all()
        return Response.json(200, {"reset": True, "counts": self.store.counts()})

    def _control_usage(self, request: Request) -> Response:
        body = request.json() or {}
        self.usage.set(used=body.get("used"), maximum=body.get("max"))
        return Response.json(200, self.usage.as_json())

    def _control_records(self, request: Request) -> Response:
        definition = object_def(request.path_params["object"])
        if definition is None:
            return Response.json(404, {"error": f"unknown object {request.path_params['object']}"})
        include_deleted = (request.query_value("include_deleted") or "true").lower() != "false"
        with self.store.lock:
            records = [dict(record) for record in self.store.live_records(definition.name, include_deleted)]
        return Response.json(200, {"object": definition.name, "totalSize": len(records), "records": records})

    def _control_state(self, request: Request) -> Response:
        return Response.json(200, {
            "counts": self.store.counts(),
            "api_usage": self.usage.as_json(),
            "bulk_jobs": {job.id: job.state for job in self.bulk.all()},
            "faults_pending": self.faults.pending(),
            "clock": self.store.clock.last,
            "time": time.time(),
        })

    def _control_save(self, request: Request) -> Response:
        return Response.json(200, {"saved": str(self.save())})
