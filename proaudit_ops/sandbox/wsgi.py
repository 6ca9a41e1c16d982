"""Tiny WSGI plumbing shared by the simulator and the billing app (standard library only).

The two apps signal network-level faults by raising `SimulatedTimeout` or `DroppedResponse`
out of the WSGI call: the in-process transport turns both into `httpx.ReadTimeout`; the HTTP
server (serve.py) waits past the client's timeout or closes the connection without a byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

StartResponse = Callable[..., Any]
WSGIEnviron = dict[str, Any]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]

MAX_BODY_BYTES = 1024 * 1024
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class SimulatedTimeout(Exception):
    """The server got the request and never answers in time."""

    def __init__(self, message: str, wait_s: float) -> None:
        super().__init__(message)
        self.wait_s = wait_s


class DroppedResponse(Exception):
    """The server did the work, then the connection died before the answer left."""


class BodyTooLarge(Exception):
    pass


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(status: int, payload: object, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, json.dumps(payload, separators=(",", ":")).encode(), headers=headers or [])


def read_request(environ: WSGIEnviron, *, limit: int | None = None) -> Request:
    """Parse the WSGI environ. With `limit`, a body over it raises BodyTooLarge (unread)."""
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = str(value)
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if limit is not None and length > limit:
        raise BodyTooLarge(f"body of {length} bytes is over the {limit}-byte limit")
    stream = environ.get("wsgi.input")
    body = stream.read(length) if (stream is not None and length > 0) else b""
    query = parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
    return Request(
        method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
        path=str(environ.get("PATH_INFO", "/")) or "/",
        query=query,
        headers=headers,
        body=body,
    )


def send(response: Response, start_response: StartResponse) -> list[bytes]:
    reason = _REASONS.get(response.status, "Status")
    headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body)))]
    start_response(f"{response.status} {reason}", headers + response.headers)
    return [response.body]


def parse_form_or_json(request: Request) -> dict[str, Any] | None:
    """POST bodies: JSON or form-encoded, as Paystack accepts both. None when unparseable."""
    if not request.body:
        return {}
    content_type = request.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" in content_type:
        try:
            form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return None
        return {key: values[0] for key, values in form.items()}
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None
