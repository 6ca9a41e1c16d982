"""The billing app's Paystack webhook endpoint and /health, behaving like the real app.

`POST /api/v1/billing/webhook/paystack`:
  413 over 1 MiB · 401 missing/bad `x-paystack-signature` (nothing recorded) · 400 not JSON ·
  then the event goes to the `webhook_events` inbox, one row per (event type, reference): a
  redelivery updates that row (attempts + 1, status, last_error, processed_at).
  `charge.success`: a pending payment becomes success (paid_at and gateway_response from the
  event) and its subscription period starts at paid_at (+1 month, or +1 year for annual
  cycles; trial cleared) in one transaction. Already applied: nothing changes, 200. Unknown
  reference: 200, inbox failed. Amount or currency differing from the row: 422, inbox failed.
  Other events: recorded as processed, 200.
  The answer's body says what happened to the event, the contract proaudit reads
  (core/webhooks/delivery.py): `{"received": true, "status": "processed"|"failed",
  "result": "applied"|"already_applied"|"rejected", "detail": "..."}`. `applied`: this delivery
  changed the payment (or recorded a non-payment event); `already_applied`: a duplicate,
  nothing changed; `rejected`: the app will not apply it (unknown reference, mismatch, not
  pending). An error (500) has no `result`: it may work on a retry.
`GET /health`: 200 {"status": "ok", "database": "ok"}, 503 when the database fails.

Faults (AppFaultConfig, or scripted `sim_faults` rows when `script_engine` is given): status
500 records the event as failed and leaves the payment alone; other statuses come from "a
proxy" (nothing recorded); timeouts happen before anything is done.
"""

from __future__ import annotations

import calendar
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from proaudit_ops.db.schema import payment_transactions, tenant_skus, webhook_events
from proaudit_ops.money import to_subunits
from proaudit_ops.paystack.signatures import SIGNATURE_HEADER, verify_signature
from proaudit_ops.sandbox.faults import (
    AppFaultConfig,
    Dice,
    Fault,
    FaultKind,
    random_app_fault,
    take_scripted_fault,
)
from proaudit_ops.sandbox.state import RowLike
from proaudit_ops.sandbox.wsgi import (
    MAX_BODY_BYTES,
    BodyTooLarge,
    DroppedResponse,
    Request,
    Response,
    SimulatedTimeout,
    StartResponse,
    WSGIEnviron,
    json_response,
    read_request,
    send,
)
from proaudit_ops.timeutil import parse_iso, utcnow

WEBHOOK_PATH = "/api/v1/billing/webhook/paystack"
HEALTH_PATH = "/health"
APPLIED, ALREADY, REJECTED = "applied", "already_applied", "rejected"  # the answer's `result`
PERIOD_MONTHS = {
    "monthly": 1,
    "quarterly": 3,
    "biannually": 6,
    "annual": 12,
    "annually": 12,
    "yearly": 12,
}


@dataclass(frozen=True)
class Outcome:
    status: str  # processed | failed
    http_status: int
    detail: str
    error: str | None = None
    result: str | None = None  # applied | already_applied | rejected (None: an error, retry may help)


def add_period(start: datetime, billing_cycle: str) -> datetime:
    """start + the cycle's months, clamping the day (Jan 31 + 1 month = Feb 28/29)."""
    months = PERIOD_MONTHS.get(billing_cycle.lower(), 1)
    year, month0 = divmod(start.month - 1 + months, 12)
    year += start.year
    day = min(start.day, calendar.monthrange(year, month0 + 1)[1])
    return start.replace(year=year, month=month0 + 1, day=day)


def event_reference(event_type: str, data: object) -> str | None:
    """The inbox dedupe key beside the event type (Paystack sends no event id)."""
    if not isinstance(data, dict):
        return None
    key = "transaction_reference" if event_type.startswith("refund.") else "reference"
    value = data.get(key) or data.get("reference")
    return str(value) if value not in (None, "") else None


class BillingApp:
    def __init__(
        self,
        billing_engine: Engine,
        secret_key: str,
        faults: AppFaultConfig | None = None,
        *,
        script_engine: Engine | None = None,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.engine = billing_engine
        self.secret_key = secret_key
        self.faults = faults or AppFaultConfig()
        self.script_engine = script_engine
        self._dice = Dice(self.faults.seed)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self.requests = 0

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            self.requests += 1
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", "/")).rstrip("/") or "/"
        if self.faults.latency_ms:
            self._sleep(self.faults.latency_ms / 1000)
        if path not in (WEBHOOK_PATH, HEALTH_PATH):
            return send(json_response(404, {"detail": "Not Found"}), start_response)
        fault = self._decide(method, path)
        if fault is not None and fault.kind is FaultKind.TIMEOUT:
            raise SimulatedTimeout(f"simulated app timeout on {method} {path}", wait_s=self.faults.timeout_s)
        if path == HEALTH_PATH:
            return send(self._health(fault), start_response)
        if method != "POST":
            return send(json_response(405, {"detail": "Method Not Allowed"}), start_response)
        response = self._webhook_with_fault(environ, fault)
        if fault is not None and fault.kind is FaultKind.DROP:
            raise DroppedResponse(f"simulated dropped response after POST {path}")
        return send(response, start_response)

    def _decide(self, method: str, path: str) -> Fault | None:
        if self.script_engine is not None:
            try:
                scripted = take_scripted_fault(self.script_engine, method, path)
            except SQLAlchemyError:
                scripted = None
            if scripted is not None:
                return scripted
        return random_app_fault(self.faults, self._dice)

    # -- /health ---------------------------------------------------------------------------------
    def _health(self, fault: Fault | None) -> Response:
        if fault is not None and fault.kind is FaultKind.ERROR:
            return json_response(fault.status or 500, {"status": "error", "database": "unknown"})
        if fault is not None and fault.kind is FaultKind.RATE_LIMIT:
            return json_response(429, {"detail": "Too Many Requests"})
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return json_response(503, {"status": "degraded", "database": "error"})
        return json_response(200, {"status": "ok", "database": "ok"})

    # -- the webhook ------------------------------------------------------------------------------
    def _webhook_with_fault(self, environ: WSGIEnviron, fault: Fault | None) -> Response:
        if fault is not None and fault.kind is FaultKind.RATE_LIMIT:
            return json_response(429, {"detail": "Too Many Requests"})
        if fault is not None and fault.kind is FaultKind.MALFORMED:
            return Response(200, b"<html><body>OK</body></html>", content_type="text/html")
        if fault is not None and fault.kind is FaultKind.ERROR and (fault.status or 500) != 500:
            return json_response(fault.status or 502, {"detail": "upstream unavailable (simulated proxy error)"})
        fail = fault is not None and fault.kind is FaultKind.ERROR
        try:
            request = read_request(environ, limit=MAX_BODY_BYTES)
        except BodyTooLarge:
            return json_response(413, {"detail": "Payload too large"})
        return self.handle_webhook(request, simulate_error=fail)

    def handle_webhook(self, request: Request, *, simulate_error: bool = False) -> Response:
        body = request.body
        if len(body) > MAX_BODY_BYTES:
            return json_response(413, {"detail": "Payload too large"})
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature or not verify_signature(body, signature, self.secret_key):
            return json_response(401, {"detail": "Invalid signature"})
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return json_response(400, {"detail": "Body is not JSON"})
        if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
            return json_response(400, {"detail": "Not a Paystack event: no 'event' field"})
        event_type: str = payload["event"]
        data = payload.get("data")
        reference = event_reference(event_type, data)
        now = self._clock()
        try:
            with self._tx() as conn:
                self._lock_key(conn, f"{event_type}:{reference}")
                if simulate_error:
                    outcome = Outcome(
                        "failed",
                        500,
                        "Internal Server Error",
                        "simulated application error (HTTP 500)",
                    )
                else:
                    outcome = self._process(conn, event_type, data, now)
                self._record(conn, event_type, reference, body, signature, outcome, now)
        except SQLAlchemyError as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else ""
            error = f"database error: {type(exc).__name__}: {first_line}"
            failed = Outcome("failed", 500, "Internal Server Error", error[:500])
            try:
                with self._tx() as conn:
                    self._record(conn, event_type, reference, body, signature, failed, now)
            except SQLAlchemyError:
                pass
            return json_response(500, {"detail": failed.detail})
        answer: dict[str, object] = {"received": True, "status": outcome.status, "detail": outcome.detail}
        if outcome.result is not None:
            answer["result"] = outcome.result
        return json_response(outcome.http_status, answer)

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
            with conn.begin():
                yield conn

    @staticmethod
    def _lock_key(conn: Connection, key: str) -> None:
        if conn.dialect.name == "postgresql":  # SQLite: BEGIN IMMEDIATE already serialises
            from proaudit_ops.db.engine import advisory_key

            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_key(conn, f"app:{key}")})

    def _process(self, conn: Connection, event_type: str, data: object, now: datetime) -> Outcome:
        if event_type != "charge.success":
            return Outcome("processed", 200, f"{event_type} recorded", result=APPLIED)
        if not isinstance(data, dict) or not data.get("reference"):
            return Outcome("failed", 200, "ignored", "charge.success without data.reference", REJECTED)
        return self._charge_success(conn, data, now)

    def _charge_success(self, conn: Connection, data: RowLike, now: datetime) -> Outcome:
        reference = str(data["reference"])
        pt = payment_transactions.c
        query = select(payment_transactions).where(pt.reference == reference)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        payment = conn.execute(query).mappings().first()
        if payment is None:
            return Outcome(
                "failed",
                200,
                "unknown reference",
                f"no payment_transactions row for reference {reference}",
                REJECTED,
            )
        if payment["status"] in ("success", "refunded"):
            return Outcome("processed", 200, f"already applied (payment is {payment['status']})", result=ALREADY)
        if payment["status"] != "pending":
            return Outcome(
                "failed",
                200,
                "not applied",
                f"payment {reference} is {payment['status']}, not pending: not applied",
                REJECTED,
            )
        problem = self._mismatch(payment, data)
        if problem is not None:
            return Outcome("failed", 422, problem, problem, REJECTED)
        sku_query = select(tenant_skus).where(tenant_skus.c.organization_id == payment["organization_id"])
        if conn.dialect.name == "postgresql":
            sku_query = sku_query.with_for_update()
        sku = conn.execute(sku_query).mappings().first()
        if sku is None:
            error = f"organization {payment['organization_id']} has no tenant_skus row"
            return Outcome("failed", 500, "Internal Server Error", error)
        paid_at = _timestamp(data.get("paid_at") or data.get("paidAt")) or now
        changed = conn.execute(
            update(payment_transactions)
            .where(pt.id == payment["id"], pt.status == "pending")
            .values(
                status="success",
                paid_at=paid_at,
                gateway_response=data.get("gateway_response"),
                paystack_transaction_id=data["id"]
                if isinstance(data.get("id"), int)
                else payment["paystack_transaction_id"],
                channel=data.get("channel") or payment["channel"],
                updated_at=now,
            )
        ).rowcount
        if changed != 1:
            raise _GuardFailed(f"payment {reference} changed under us")
        conn.execute(
            update(tenant_skus)
            .where(tenant_skus.c.id == sku["id"])
            .values(
                is_active=True,
                current_period_start=paid_at,
                current_period_end=add_period(paid_at, str(sku["billing_cycle"])),
                trial_ends_at=None,
                updated_at=now,
            )
        )
        return Outcome("processed", 200, "payment applied, subscription activated", result=APPLIED)

    @staticmethod
    def _mismatch(payment: RowLike, data: RowLike) -> str | None:
        if data.get("status") not in (None, "success"):
            return f"event data.status is {data.get('status')!r}, expected 'success'"
        try:
            amount = to_subunits(data.get("amount"))
        except ValueError:
            return f"event amount {data.get('amount')!r} is not an amount in subunits"
        if amount != int(payment["amount_kobo"]):
            return f"amount mismatch: event {amount}, payment {payment['amount_kobo']} (subunits)"
        currency = str(data.get("currency") or "").upper()
        if currency != str(payment["currency"]).upper():
            return f"currency mismatch: event {currency or '(none)'}, payment {payment['currency']}"
        return None

    @staticmethod
    def _record(
        conn: Connection,
        event_type: str,
        reference: str | None,
        body: bytes,
        signature: str | None,
        outcome: Outcome,
        now: datetime,
    ) -> None:
        we = webhook_events.c
        existing = None
        if reference is not None:
            existing = conn.execute(
                select(we.id, we.attempts, we.processed_at)
                .where(we.event_type == event_type, we.reference == reference)
                .order_by(we.received_at)
                .limit(1)
            ).first()
        processed_at = now if outcome.status == "processed" else None
        if existing is not None:
            conn.execute(
                update(webhook_events)
                .where(we.id == existing.id)
                .values(
                    attempts=int(existing.attempts or 0) + 1,
                    status=outcome.status,
                    last_error=outcome.error,
                    processed_at=(existing.processed_at or processed_at) if processed_at else None,
                )
            )
            return
        conn.execute(
            webhook_events.insert().values(
                id=str(uuid.uuid4()),
                event_type=event_type,
                reference=reference,
                raw_body=body,
                signature=signature,
                status=outcome.status,
                attempts=1,
                last_error=outcome.error,
                received_at=now,
                processed_at=processed_at,
            )
        )


class _GuardFailed(SQLAlchemyError):
    """The guarded UPDATE touched no row: roll back and answer 500 (Paystack will retry)."""


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None
