"""The Paystack simulator: a WSGI app over the `sim_*` tables, with fault injection.

Per request: latency, then auth (`Authorization: Bearer sk_test_...|sk_live_...`; the key's
mode is the `domain` of every object returned), then one fault decision (a scripted fault
from `sim_faults` first, else the random `FaultConfig`), then the route. Each request uses
its own connection and transaction, so concurrent requests see consistent states.

With a request log (`PROAUDIT_SIM_REQUEST_LOG=path` for `sandbox serve`), every request the
simulator answers is one JSON line: `received` and `answered` (epoch seconds, the server's
clock), method, path, status (None when it never answers), the fault injected, and the
reference it is about (a charge's body, a verify path). The reliability proofs read it to check
the client's behaviour from the server's side (no POST after the breaker opened, the wait after
a 429 at least its Retry-After).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from proaudit_ops.sandbox import shapes, sim_refunds, sim_transactions
from proaudit_ops.sandbox.faults import (
    Dice,
    Fault,
    FaultConfig,
    FaultKind,
    clear_scripted_faults,
    random_fault,
    script_fault,
    take_scripted_fault,
)
from proaudit_ops.sandbox.sim_transactions import SimContext
from proaudit_ops.sandbox.wsgi import (
    DroppedResponse,
    Request,
    Response,
    SimulatedTimeout,
    StartResponse,
    WSGIEnviron,
    json_response,
    parse_form_or_json,
    read_request,
    send,
)
from proaudit_ops.timeutil import utcnow

Handler = Callable[[SimContext, Request, Mapping[str, str]], Response]
_KEY_RE = re.compile(r"^Bearer\s+sk_(test|live)_[A-Za-z0-9_]+$")
_VERIFY_RE = re.compile(r"^/transaction/verify/(?P<reference>[^/]+)/?$")
REQUEST_LOG_ENV = "PROAUDIT_SIM_REQUEST_LOG"

ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    ("GET", re.compile(r"^/transaction/verify/(?P<reference>[^/]+)/?$"), sim_transactions.verify),
    ("GET", re.compile(r"^/transaction/timeline/(?P<key>[^/]+)/?$"), sim_transactions.timeline),
    ("GET", re.compile(r"^/transaction/?$"), sim_transactions.list_transactions),
    ("GET", re.compile(r"^/transaction/export/?$"), sim_transactions.export),
    ("POST", re.compile(r"^/transaction/initialize/?$"), sim_transactions.initialize),
    (
        "POST",
        re.compile(r"^/transaction/charge_authorization/?$"),
        sim_transactions.charge_authorization,
    ),
    ("GET", re.compile(r"^/transaction/(?P<id>[^/]+)/?$"), sim_transactions.fetch),
    ("GET", re.compile(r"^/refund/?$"), sim_refunds.list_refunds),
    ("POST", re.compile(r"^/refund/?$"), sim_refunds.create),
    ("GET", re.compile(r"^/refund/(?P<id>[^/]+)/?$"), sim_refunds.fetch),
]


def key_domain(authorization: str | None) -> str | None:
    """`test` or `live` for a well-formed secret key, else None (answered 401)."""
    if not authorization:
        return None
    match = _KEY_RE.match(authorization.strip())
    return match.group(1) if match else None


def request_log_from_env(environ: Mapping[str, str] | None = None) -> Path | None:
    raw = (os.environ if environ is None else environ).get(REQUEST_LOG_ENV, "").strip()
    return Path(raw) if raw else None


class RequestLog:
    """Append-only JSON lines, one per answered request (thread-safe; opened per line, so a
    reader in another process sees every line written so far)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, entry: Mapping[str, Any]) -> None:
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(line)


def _reference(request: Request) -> str | None:
    match = _VERIFY_RE.match(request.path)
    if match is not None:
        return match.group("reference")
    if request.method == "POST":
        body = parse_form_or_json(request)
        value = body.get("reference") if body else None
        return str(value) if value is not None else None
    return None


class Simulator:
    """WSGI app. `faults` = random faults; `inject()` scripts exact ones (see faults.py)."""

    def __init__(
        self,
        state_engine: Engine,
        faults: FaultConfig | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        request_log: Path | None = None,
    ) -> None:
        self.engine = state_engine
        self.request_log = RequestLog(request_log) if request_log is not None else None
        self.faults = faults or FaultConfig()
        self._dice = Dice(self.faults.seed)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self.requests = 0  # how many requests reached the simulator (for tests and benches)

    # -- scripted faults ---------------------------------------------------------------------
    def inject(
        self,
        path: str,
        kind: FaultKind | str,
        *,
        count: int = 1,
        method: str | None = None,
        status: int | None = None,
    ) -> None:
        """The next `count` requests to `path` get `kind` (`error`, `rate_limit`, `timeout`,
        `drop`, `malformed`). `path` may end in `*` to match a prefix."""
        script_fault(self.engine, path, kind, count=count, method=method, status=status)

    def clear_faults(self) -> int:
        return clear_scripted_faults(self.engine)

    # -- WSGI ------------------------------------------------------------------------------------
    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            self.requests += 1
        received = time.time()
        request = read_request(environ)
        if self.request_log is None:
            return self._answer(request, start_response)
        entry: dict[str, Any] = {
            "received": received,
            "method": request.method,
            "path": request.path,
            "reference": _reference(request),
            "status": None,
            "fault": None,
        }
        try:
            return self._answer(request, start_response, entry)
        finally:
            entry["answered"] = time.time()
            self.request_log.write(entry)

    def _answer(
        self, request: Request, start_response: StartResponse, entry: dict[str, Any] | None = None
    ) -> Iterable[bytes]:
        note = entry if entry is not None else {}
        if self.faults.latency_ms:
            self._sleep(self.faults.latency_ms / 1000)
        if request.method == "GET" and request.path.startswith("/exports/"):
            # An export's file link, like Paystack's: the link is the credential, no key is sent.
            response = sim_transactions.export_file(self.engine, request.path, self._clock())
            note["status"] = response.status
            return send(response, start_response)
        domain = key_domain(request.headers.get("authorization"))
        if domain is None:
            note["status"] = 401
            return send(json_response(401, shapes.INVALID_KEY), start_response)
        fault = self._decide(request)
        if fault is not None:
            note["fault"] = fault.kind.value
        if fault is not None and fault.kind is not FaultKind.DROP:
            response = self._fault_response(fault, request)
            note["status"] = response.status
            return send(response, start_response)
        response = self._route(request, domain)
        if fault is not None:  # DROP: the work is done and committed; the answer is lost
            raise DroppedResponse(f"simulated dropped response after {request.method} {request.path}")
        note["status"] = response.status
        return send(response, start_response)

    def _decide(self, request: Request) -> Fault | None:
        try:
            scripted = take_scripted_fault(self.engine, request.method, request.path)
        except SQLAlchemyError:
            scripted = None
        if scripted is not None:
            return scripted
        if not self.faults.any_random:
            return None
        return random_fault(self.faults, self._dice, request.method)

    def _fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind is FaultKind.RATE_LIMIT:
            return json_response(
                fault.status or 429,
                shapes.RATE_LIMITED,
                headers=[("Retry-After", str(self.faults.retry_after_s))],
            )
        if fault.kind is FaultKind.ERROR:
            return json_response(fault.status or 500, shapes.SERVER_ERROR)
        if fault.kind is FaultKind.MALFORMED:
            return Response(fault.status or 200, shapes.MALFORMED_BODY, content_type="text/html")
        raise SimulatedTimeout(f"simulated timeout on {request.method} {request.path}", wait_s=self.faults.timeout_s)

    def _route(self, request: Request, domain: str) -> Response:
        ctx = SimContext(self.engine, domain, self._clock())
        path_matched = False
        for method, pattern, handler in ROUTES:
            match = pattern.match(request.path)
            if match is None:
                continue
            path_matched = True
            if method != request.method:
                continue
            try:
                return handler(ctx, request, match.groupdict())
            except SQLAlchemyError:
                return json_response(500, shapes.SERVER_ERROR)
        if path_matched:
            return json_response(405, {"status": False, "message": "Method not allowed"})
        return json_response(404, {"status": False, "message": "Not found"})
