"""The HTTPS server both emulators run on, with the hooks every emulator shares.

Shared behaviour lives here so the two emulators differ only in their API: routes under
``/_emulator/`` are the test controls (arm faults, reset, read state), a concurrency gate answers
over-limit requests with the service's own error, faults are applied in one place, every service
request can be held ``latency`` seconds (inside the gate, like a real round trip) and every service
request is written to a bounded request log.

Common controls (every emulator)::

    POST|DELETE /_emulator/faults                  arm a fault / disarm all
    GET|POST    /_emulator/latency {"seconds": s}  read / set the added latency -> {"seconds"}
    GET|DELETE  /_emulator/requests                the request log -> {"requests", "writes"} / clear it
"""
from __future__ import annotations

import json
import logging
import re
import signal
import socket
import ssl
import threading
import time
from collections import deque
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from emulators.common.faults import Fault, FaultQueue
from emulators.common.http import Request, Response, Router
from emulators.common.tls import RunCertificates

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_emulator/"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REQUEST_LOG_SIZE = 100_000


class RequestLog:
    """The service requests an emulator answered, for tests: the last ``size`` entries
    ``{"method", "path", "status", "write"}`` (``status`` None for a dropped connection) and a count
    of every write ever seen, which is not bounded by ``size``. Thread-safe."""

    def __init__(self, size: int = REQUEST_LOG_SIZE) -> None:
        self._entries: deque[dict] = deque(maxlen=size)
        self._writes = 0
        self._lock = threading.Lock()

    def record(self, method: str, path: str, status: int | None, write: bool) -> None:
        entry = {"method": method, "path": path, "status": status, "write": write}
        with self._lock:
            self._entries.append(entry)
            if write:
                self._writes += 1

    @property
    def writes(self) -> int:
        with self._lock:
            return self._writes

    def entries(self) -> list[dict]:
        with self._lock:
            return list(self._entries)

    def as_json(self) -> dict:
        with self._lock:
            return {"requests": list(self._entries), "writes": self._writes}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._writes = 0


class EmulatorApp:
    """Base of an emulated service. Subclasses register routes on ``self.router`` and
    ``self.control`` and write their service's error bodies."""

    name = "emulator"
    # Requests that use POST to read (full-match regular expressions on the path): not writes.
    read_only_posts: tuple[str, ...] = ()

    def __init__(self, concurrency_limit: int | None = None, latency: float = 0.0) -> None:
        self.router = Router()
        self.control = Router()
        self.faults = FaultQueue()
        self.concurrency_limit = concurrency_limit
        self.latency = self._check_latency(latency)
        self.requests = RequestLog()
        self._read_only_posts = [re.compile(pattern) for pattern in self.read_only_posts]
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()
        self.control.add("POST", "/_emulator/faults", self._arm_faults)
        self.control.add("DELETE", "/_emulator/faults", self._clear_faults)
        self.control.add("GET", "/_emulator/latency", self._control_latency)
        self.control.add("POST", "/_emulator/latency", self._control_latency)
        self.control.add("GET", "/_emulator/requests", self._control_requests)
        self.control.add("DELETE", "/_emulator/requests", self._control_requests)

    # Service-specific answers -------------------------------------------------------------
    def fault_response(self, fault: Fault, request: Request) -> Response:
        return Response.json(fault.status or 500, {"error": fault.error_code or "injected fault"})

    def over_concurrency_response(self, request: Request) -> Response:
        return Response.json(429, {"error": "too many concurrent requests"})

    def not_found_response(self, request: Request) -> Response:
        return Response.json(404, {"error": f"no route for {request.method} {request.path}"})

    def method_not_allowed_response(self, request: Request) -> Response:
        return Response.json(405, {"error": f"{request.method} not allowed on {request.path}"})

    def error_response(self, request: Request, error: Exception) -> Response:
        return Response.json(500, {"error": "internal emulator error"})

    def decorate(self, request: Request, response: Response) -> Response:
        """Last chance to add headers every response of the service carries."""
        return response

    # Concurrency gate ---------------------------------------------------------------------
    def enter(self) -> bool:
        with self._in_flight_lock:
            if self.concurrency_limit is not None and self._in_flight >= self.concurrency_limit:
                return False
            self._in_flight += 1
            return True

    def leave(self) -> None:
        with self._in_flight_lock:
            self._in_flight -= 1

    # Request log ---------------------------------------------------------------------------
    def is_write(self, method: str, path: str) -> bool:
        """POST, PUT, PATCH and DELETE are writes, except POSTs matching ``read_only_posts``."""
        if method not in WRITE_METHODS:
            return False
        return not (method == "POST" and any(pattern.fullmatch(path) for pattern in self._read_only_posts))

    def log_request(self, request: Request, status: int | None) -> None:
        self.requests.record(request.method, request.path, status, self.is_write(request.method, request.path))

    # Controls ------------------------------------------------------------------------------
    @staticmethod
    def _check_latency(value) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            raise ValueError("latency must be a number of seconds")
        seconds = float(value)
        if not seconds >= 0 or seconds == float("inf"):
            raise ValueError("latency must be a finite number of seconds, 0 or more")
        return seconds

    def _control_latency(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                payload = request.json() or {}
                if "seconds" in payload:
                    self.latency = self._check_latency(payload["seconds"])
            except (ValueError, TypeError, AttributeError) as error:
                return Response.json(400, {"error": f"bad latency: {error}"})
        return Response.json(200, {"seconds": self.latency})

    def _control_requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.requests.clear()
        return Response.json(200, self.requests.as_json())

    def _arm_faults(self, request: Request) -> Response:
        payload = request.json() or {}
        try:
            fault = Fault.from_json(payload)
            count = int(payload.get("count", 1))
        except (ValueError, TypeError) as error:
            return Response.json(400, {"error": str(error)})
        self.faults.arm(fault, count)
        return Response.json(200, {"armed": count, "pending": self.faults.pending()})

    def _clear_faults(self, request: Request) -> Response:
        self.faults.clear()
        return Response.json(200, {"pending": 0})

    def dispatch(self, request: Request) -> Response:
        handler, path_known = self.router.match(request)
        if handler is None:
            if path_known:
                return self.method_not_allowed_response(request)
            return self.not_found_response(request)
        try:
            return handler(request)
        except Exception as error:  # a bug in the emulator must not kill the server thread
            log.exception("%s: %s %s failed", self.name, request.method, request.path)
            return self.error_response(request, error)


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, context: ssl.SSLContext, app: EmulatorApp):
        self.app = app
        self._context = context
        super().__init__(address, handler)

    def get_request(self):
        raw, address = self.socket.accept()
        # The handshake runs in the request thread (see finish_request): a slow client
        # must not stall the accept loop.
        return self._context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False), address

    def finish_request(self, request, client_address):
        try:
            request.settimeout(30)
            request.do_handshake()
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms a response on loopback).
    disable_nagle_algorithm = True
    server: _TLSServer

    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        log.debug("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        app = self.server.app
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = self.headers.get("Host") or "%s:%s" % self.server.server_address[:2]
        request = Request(
            method=self.command,
            path=split.path,
            query=Request.parse_query(split.query),
            headers=self.headers,
            body=body,
            url=f"https://{host}{self.path}",
        )
        if request.path.startswith(CONTROL_PREFIX):
            handler, _ = app.control.match(request)
            response = handler(request) if handler else app.not_found_response(request)
            self._send(response)
            return
        if not app.enter():
            # Refused at once: a request over the limit holds no slot, so no added latency.
            response = app.decorate(request, app.over_concurrency_response(request))
            app.log_request(request, response.status)
            self._send(response)
            return
        try:
            latency = app.latency
            if latency > 0:
                time.sleep(latency)  # holding its slot in the gate, like a real round trip
            fault = app.faults.take(request.method, request.path)
            if fault and fault.kind == "drop":
                app.log_request(request, None)
                self._drop()
                return
            if fault and fault.kind == "status":
                response = app.decorate(request, app.fault_response(fault, request))
            else:
                if fault and fault.kind == "delay_before":
                    time.sleep(fault.delay)
                response = app.decorate(request, app.dispatch(request))
                if fault and fault.kind == "drop_after_apply":
                    app.log_request(request, None)
                    self._drop()
                    return
                if fault and fault.kind == "delay_after_apply":
                    time.sleep(fault.delay)
        finally:
            app.leave()
        app.log_request(request, response.status)
        self._send(response)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if response.body and self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve


class EmulatorServer:
    """Runs an app over HTTPS on a loopback port, in a background thread."""

    def __init__(self, app: EmulatorApp, certificates: RunCertificates,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._httpd = _TLSServer((host, port), _Handler, certificates.server_context(), app)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"https://{host}:{port}"

    def start(self) -> "EmulatorServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=f"{self.app.name}-server",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def stop_signal() -> threading.Event:
    """An event set by SIGINT or SIGTERM (handled from now on), so a foreground emulator stops
    cleanly and saves."""
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    return stopped


def wait_for_stop_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop_signal().wait()


def run_standalone(app: EmulatorApp, certificates: RunCertificates, host: str, port: int, save: bool) -> int:
    """Serve one emulator until signalled; one JSON line on stdout says where and what CA to trust."""
    # Handled before the line is out: a SIGTERM sent as soon as it is read must still save.
    stopped = stop_signal()
    server = EmulatorServer(app, certificates, host=host, port=port).start()
    print(json.dumps({"emulator": app.name, "base_url": server.base_url,
                      "ca_bundle": str(certificates.ca_bundle)}), flush=True)
    stopped.wait()
    server.stop()
    if save:
        app.save()
    return 0
