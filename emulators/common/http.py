"""Request, response and routing for the emulators: just enough HTTP, no framework.

A plain ``http.server`` keeps full control of the socket, which the fault hooks need: a test can
ask for a dropped connection (before or after the write was applied), or for a response held back
after the write was applied.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import Message
from typing import Any, Callable
from urllib.parse import parse_qs

import simplejson


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    url: str
    path_params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON, numbers with a fraction as Decimal so money stays exact."""
        if not self.body:
            return None
        return json.loads(self.body, parse_float=Decimal)

    def query_value(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    @staticmethod
    def parse_query(raw: str) -> dict[str, list[str]]:
        return parse_qs(raw, keep_blank_values=True)


def dumps(payload: Any) -> bytes:
    """JSON with Decimal values written as numbers with their exact digits, as the real APIs send."""
    return simplejson.dumps(payload, use_decimal=True).encode()


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None,
             content_type: str = "application/json") -> "Response":
        merged = {"Content-Type": content_type, **(headers or {})}
        return cls(status=status, body=dumps(payload), headers=merged)

    @classmethod
    def empty(cls, status: int, headers: dict[str, str] | None = None) -> "Response":
        return cls(status=status, body=b"", headers=dict(headers or {}))

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain",
             headers: dict[str, str] | None = None) -> "Response":
        return cls(status=status, body=text.encode(), headers={"Content-Type": content_type, **(headers or {})})


Handler = Callable[[Request], Response]


class Router:
    """Method + regular-expression routing; named groups become ``request.path_params``."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method.upper(), re.compile(f"^{pattern}$"), handler))

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(method, pattern, handler)
            return handler

        return register

    def match(self, request: Request) -> tuple[Handler | None, bool]:
        """The handler for the request, and whether the path exists under another method."""
        path_known = False
        for method, pattern, handler in self._routes:
            found = pattern.match(request.path)
            if not found:
                continue
            path_known = True
            if method == request.method:
                request.path_params = found.groupdict()
                return handler, True
        return None, path_known
