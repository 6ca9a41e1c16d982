"""Simulator handlers for /transaction: verify, fetch, list (offset and cursor), timeline,
initialize and charge_authorization."""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from proaudit_ops.money import to_subunits
from proaudit_ops.sandbox import shapes
from proaudit_ops.sandbox.state import (
    FIRST_TRANSACTION_ID,
    RowLike,
    dumps,
    loads,
    next_id,
    read_conn,
    sim_authorizations,
    sim_transactions,
    write_conn,
)
from proaudit_ops.sandbox.wsgi import Request, Response, json_response, parse_form_or_json

REFERENCE_RE = re.compile(r"[A-Za-z0-9\-.=]{1,100}")
CURRENCIES = ("NGN", "USD", "GHS", "ZAR", "KES")
PAUSED_MESSAGE = "Please, redirect your customer to the authorization url provided"
DUPLICATE_REFERENCE = shapes.validation_error(
    "Duplicate Transaction Reference",
    code="duplicate_reference",
    next_step="Ensure you provide a unique reference",
)


@dataclass(frozen=True)
class SimContext:
    engine: Engine
    domain: str
    now: datetime


class BadParam(ValueError):
    pass


# -- reads ----------------------------------------------------------------------------------------


def verify(ctx: SimContext, _request: Request, params: Mapping[str, str]) -> Response:
    with read_conn(ctx.engine) as conn:
        row = (
            conn.execute(select(sim_transactions).where(sim_transactions.c.reference == params["reference"]))
            .mappings()
            .first()
        )
    if row is None:
        return json_response(404, {"status": False, "message": "Transaction reference not found"})
    return json_response(200, shapes.ok("Verification successful", shapes.render_transaction(row, ctx.domain)))


def fetch(ctx: SimContext, _request: Request, params: Mapping[str, str]) -> Response:
    raw = params["id"]
    if not raw.isdigit():
        return json_response(400, shapes.validation_error("Transaction ID should be numeric."))
    with read_conn(ctx.engine) as conn:
        row = conn.execute(select(sim_transactions).where(sim_transactions.c.id == int(raw))).mappings().first()
    if row is None:
        return json_response(404, {"status": False, "message": "Transaction not found"})
    return json_response(200, shapes.ok("Transaction retrieved", shapes.render_transaction(row, ctx.domain, "fetch")))


def timeline(ctx: SimContext, _request: Request, params: Mapping[str, str]) -> Response:
    key = params["key"]
    column = sim_transactions.c.id if key.isdigit() else sim_transactions.c.reference
    with read_conn(ctx.engine) as conn:
        row = (
            conn.execute(select(sim_transactions).where(column == (int(key) if key.isdigit() else key)))
            .mappings()
            .first()
        )
    if row is None:
        return json_response(404, {"status": False, "message": "Transaction not found"})
    return json_response(200, shapes.ok("Timeline retrieved", loads(row["log"]) or {}))


def positive_int(request: Request, name: str, default: int) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    if not raw.strip().isdigit() or int(raw) < 1:
        raise BadParam(f"{name} must be a positive integer")
    return int(raw)


def time_bound(raw: str | None, *, end: bool) -> tuple[datetime, bool] | None:
    """`from`/`to`: an ISO timestamp or a date. Returns (bound, inclusive)."""
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = datetime.fromisoformat(text).replace(tzinfo=UTC)
            return (day + timedelta(days=1), False) if end else (day, True)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadParam(f"Invalid date: {raw!r}. Use an ISO 8601 timestamp or a date") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)), True


def date_filters(request: Request, created: Any) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    start = time_bound(request.arg("from"), end=False)
    if start is not None:
        where.append(created >= start[0])
    stop = time_bound(request.arg("to"), end=True)
    if stop is not None:
        where.append(created <= stop[0] if stop[1] else created < stop[0])
    return where


def _list_filters(request: Request) -> list[ColumnElement[bool]]:
    t = sim_transactions.c
    where = date_filters(request, t.created_at)
    status = request.arg("status")
    if status:
        where.append(t.status == status)
    customer = request.arg("customer")
    if customer:
        if not customer.isdigit():
            raise BadParam("customer must be a customer ID (integer)")
        where.append(t.customer_id == int(customer))
    amount = request.arg("amount")
    if amount:
        try:
            where.append(t.amount == to_subunits(amount))
        except ValueError:
            raise BadParam("amount must be an integer in subunits") from None
    return where


def _encode_cursor(row: RowLike) -> str:
    created = row["created_at"]
    micros = (
        int(created.timestamp() * 1_000_000)
        if created.tzinfo
        else int(created.replace(tzinfo=UTC).timestamp() * 1_000_000)
    )
    return base64.b64encode(f"{micros}:{int(row['id'])}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        micros, ident = base64.b64decode(cursor.encode(), validate=True).decode().split(":")
        return datetime.fromtimestamp(int(micros) / 1_000_000, UTC), int(ident)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadParam("Invalid cursor") from None


def list_transactions(ctx: SimContext, request: Request, _params: Mapping[str, str]) -> Response:
    try:
        per_page = positive_int(request, "perPage", 50)
        where = _list_filters(request)
        if (request.arg("use_cursor") or "").lower() == "true" or request.arg("next") or request.arg("previous"):
            return _list_cursor(ctx, request, where, per_page)
        page = positive_int(request, "page", 1)
    except BadParam as exc:
        return json_response(400, shapes.validation_error(str(exc)))
    t = sim_transactions.c
    with read_conn(ctx.engine) as conn:
        total, volume = conn.execute(
            select(func.count(), func.coalesce(func.sum(t.amount), 0)).select_from(sim_transactions).where(*where)
        ).one()
        rows = (
            conn.execute(
                select(sim_transactions)
                .where(*where)
                .order_by(t.created_at.desc(), t.id.desc())
                .limit(per_page)
                .offset((page - 1) * per_page)
            )
            .mappings()
            .all()
        )
    meta = {
        "total": int(total),
        "total_volume": int(volume),
        "skipped": (page - 1) * per_page,
        "perPage": per_page,
        "page": page,
        "pageCount": math.ceil(int(total) / per_page),
    }
    data = [shapes.render_transaction(row, ctx.domain, "list") for row in rows]
    return json_response(200, shapes.ok("Transactions retrieved", data, meta))


def _list_cursor(ctx: SimContext, request: Request, where: list[ColumnElement[bool]], per_page: int) -> Response:
    t = sim_transactions.c
    after, before = request.arg("next"), request.arg("previous")
    if after in ("null", ""):
        after = None
    if before in ("null", ""):
        before = None
    conditions = list(where)
    backwards = False
    if after:
        at, ident = _decode_cursor(after)
        conditions.append(or_(t.created_at < at, and_(t.created_at == at, t.id < ident)))
    elif before:
        at, ident = _decode_cursor(before)
        conditions.append(or_(t.created_at > at, and_(t.created_at == at, t.id > ident)))
        backwards = True
    order = (t.created_at.asc(), t.id.asc()) if backwards else (t.created_at.desc(), t.id.desc())
    with read_conn(ctx.engine) as conn:
        rows = list(
            conn.execute(select(sim_transactions).where(*conditions).order_by(*order).limit(per_page + 1))
            .mappings()
            .all()
        )
    more = len(rows) > per_page
    rows = rows[:per_page]
    if backwards:
        rows.reverse()
    has_newer = (more if backwards else bool(after)) and bool(rows)
    has_older = (True if backwards else more) and bool(rows)
    meta: dict[str, Any] = {
        "next": _encode_cursor(rows[-1]) if has_older else None,
        "previous": _encode_cursor(rows[0]) if has_newer else "null",
        "perPage": per_page,
    }
    data = [shapes.render_transaction(row, ctx.domain, "list") for row in rows]
    return json_response(200, shapes.ok("Transactions retrieved", data, meta))


# -- writes ---------------------------------------------------------------------------------------


def customer_for(conn: Connection, email: str) -> tuple[int, dict[str, Any]]:
    """The customer Paystack knows by this email, or a new one (deterministic code)."""
    t = sim_transactions.c
    known = conn.execute(select(t.customer_id, t.customer).where(t.customer_email == email.lower()).limit(1)).first()
    if known is not None:
        return int(known.customer_id), loads(known.customer)
    current = conn.execute(select(func.max(t.customer_id))).scalar()
    customer_id = 181_873_746 if current is None else int(current) + 1
    code = "CUS_" + hashlib.sha1(email.lower().encode()).hexdigest()[:15]  # noqa: S324 - an id, not security
    return customer_id, {
        "id": customer_id,
        "first_name": None,
        "last_name": None,
        "email": email,
        "customer_code": code,
        "phone": None,
        "metadata": None,
        "risk_action": "default",
        "international_format_phone": None,
    }


def _body(request: Request) -> dict[str, Any] | Response:
    body = parse_form_or_json(request)
    if body is None:
        return json_response(400, shapes.validation_error("Invalid request body: send JSON or form-encoded data"))
    return body


def _amount(body: RowLike) -> int | Response:
    raw = body.get("amount")
    if raw is None or raw == "":
        return json_response(400, shapes.validation_error("Amount is required", code="missing_params"))
    try:
        amount = to_subunits(raw)
    except ValueError:
        return json_response(400, shapes.validation_error("Invalid Amount Sent"))
    if amount <= 0:
        return json_response(400, shapes.validation_error("Invalid Amount Sent"))
    return amount


def _common_checks(body: RowLike) -> tuple[str, int, str, str | None] | Response:
    email = str(body.get("email") or "").strip()
    if not email:
        return json_response(
            400,
            shapes.validation_error(
                "Email Address is required",
                code="missing_params",
                next_step="Provide all required params",
            ),
        )
    amount = _amount(body)
    if isinstance(amount, Response):
        return amount
    currency = str(body.get("currency") or "NGN").upper()
    if currency not in CURRENCIES:
        return json_response(400, shapes.validation_error("Currency not supported by merchant"))
    reference = body.get("reference")
    if reference is not None and reference != "":
        reference = str(reference)
        if not REFERENCE_RE.fullmatch(reference):  # `$` would accept a trailing newline
            return json_response(
                400,
                shapes.validation_error("Invalid reference. Only -, ., = and alphanumeric characters are allowed"),
            )
        return email, amount, currency, reference
    return email, amount, currency, None


def _reference_taken(conn: Connection, reference: str) -> bool:
    return (
        conn.execute(select(sim_transactions.c.id).where(sim_transactions.c.reference == reference)).first() is not None
    )


def initialize(ctx: SimContext, request: Request, _params: Mapping[str, str]) -> Response:
    body = _body(request)
    if isinstance(body, Response):
        return body
    checked = _common_checks(body)
    if isinstance(checked, Response):
        return checked
    email, amount, currency, reference = checked
    reference = reference or uuid.uuid4().hex[:10]
    access_code = uuid.uuid4().hex[:15]
    with write_conn(ctx.engine) as conn:
        if _reference_taken(conn, reference):
            return json_response(400, DUPLICATE_REFERENCE)
        customer_id, customer = customer_for(conn, email)
        conn.execute(
            sim_transactions.insert().values(
                id=next_id(conn, sim_transactions, FIRST_TRANSACTION_ID),
                reference=reference,
                status="abandoned",
                amount=amount,
                requested_amount=amount,
                currency=currency,
                gateway_response=shapes.NOT_COMPLETED,
                message=None,
                channel="card",
                ip_address=None,
                fees=None,
                customer_id=customer_id,
                customer_email=email.lower(),
                customer=dumps(customer),
                authorization=dumps({}),
                metadata=dumps(body.get("metadata")) if body.get("metadata") is not None else None,
                log=None,
                source=dumps(_source("transaction_initialize")),
                paid_at=None,
                created_at=ctx.now,
                updated_at=ctx.now,
            )
        )
    data = {
        "authorization_url": f"https://checkout.paystack.com/{access_code}",
        "access_code": access_code,
        "reference": reference,
    }
    return json_response(200, shapes.ok("Authorization URL created", data))


def _source(entry_point: str) -> dict[str, Any]:
    return {"source": "merchant_api", "type": "api", "identifier": None, "entry_point": entry_point}


def charge_authorization(ctx: SimContext, request: Request, _params: Mapping[str, str]) -> Response:
    body = _body(request)
    if isinstance(body, Response):
        return body
    checked = _common_checks(body)
    if isinstance(checked, Response):
        return checked
    email, amount, currency, reference = checked
    code = str(body.get("authorization_code") or "").strip()
    if not code:
        return json_response(400, shapes.validation_error("Authorization code is required", code="missing_params"))
    reference = reference or uuid.uuid4().hex[:10]
    with write_conn(ctx.engine) as conn:
        auth = (
            conn.execute(select(sim_authorizations).where(sim_authorizations.c.authorization_code == code))
            .mappings()
            .first()
        )
        if auth is None:
            return json_response(400, shapes.validation_error("Invalid Authorization Code"))
        if str(auth["email"]).lower() != email.lower():
            return json_response(
                400,
                shapes.validation_error(
                    "Email does not match Authorization code. Authorization may be inactive "
                    "or belong to a different email. Please confirm."
                ),
            )
        authorization = loads(auth["authorization"])
        if not authorization.get("reusable", False):
            return json_response(400, shapes.validation_error("Authorization code is not reusable"))
        if _reference_taken(conn, reference):
            return json_response(400, DUPLICATE_REFERENCE)
        failure = auth["failure"]
        paused = bool(auth["requires_2fa"]) and not failure
        status = "ongoing" if paused else "failed" if failure else "success"
        customer = loads(auth["customer"])
        values = {
            "id": next_id(conn, sim_transactions, FIRST_TRANSACTION_ID),
            "reference": reference,
            "status": status,
            "amount": amount,
            "requested_amount": amount,
            "currency": currency,
            "gateway_response": failure or ("Pending 2FA authorization" if paused else "Approved"),
            "message": None,
            "channel": "card",
            "ip_address": None,
            "fees": 0 if failure or paused else shapes.paystack_fees(amount, currency),
            "customer_id": int(customer["id"]),
            "customer_email": str(customer["email"]).lower(),
            "customer": dumps(customer),
            "authorization": dumps(authorization),
            "metadata": dumps(body.get("metadata")) if body.get("metadata") is not None else None,
            "log": dumps(shapes.make_log(ctx.now, status=status, channel="card", failure=failure)),
            "source": dumps(_source("charge_authorization")),
            "paid_at": None if failure or paused else ctx.now,
            "created_at": ctx.now,
            "updated_at": ctx.now,
        }
        conn.execute(sim_transactions.insert().values(**values))
    if paused:  # reference section 4: the charge is not done until the customer approves it
        access_code = uuid.uuid4().hex[:15]
        data = {
            "authorization_url": f"https://checkout.paystack.com/resume/{access_code}",
            "reference": reference,
            "access_code": access_code,
            "paused": True,
        }
        return json_response(200, shapes.ok(PAUSED_MESSAGE, data))
    return json_response(200, shapes.ok("Charge attempted", shapes.render_transaction(values, ctx.domain, "charge")))


# -- export (GET /transaction/export and the CSV file it links to) ---------------------------------

EXPORT_COLUMNS = (
    "id",
    "reference",
    "status",
    "amount",
    "requested_amount",
    "currency",
    "gateway_response",
    "channel",
    "paid_at",
    "created_at",
    "metadata",
)
EXPORT_TTL = timedelta(hours=1)
EXPORT_PATH_RE = re.compile(r"^/exports/(?P<token>[A-Za-z0-9_\-=]+)\.csv$")


def export(ctx: SimContext, request: Request, _params: Mapping[str, str]) -> Response:
    """GET /transaction/export: a link to a CSV of the filtered transactions (Paystack's shape:
    `data.path` and `data.expiresAt`). The link carries the filters; the file is built when fetched."""
    try:
        date_filters(request, sim_transactions.c.created_at)  # reject a bad from/to now, as Paystack does
    except BadParam as exc:
        return json_response(400, shapes.validation_error(str(exc)))
    status = request.arg("status") or ""
    expires = ctx.now + EXPORT_TTL
    spec = dumps({"from": request.arg("from"), "to": request.arg("to"), "status": status, "exp": expires.isoformat()})
    token = base64.urlsafe_b64encode(spec.encode()).decode()
    host = request.headers.get("host") or "api.paystack.co"
    scheme = "http" if host.split(":")[0] in ("127.0.0.1", "localhost") else "https"
    data = {"path": f"{scheme}://{host}/exports/{token}.csv", "expiresAt": shapes.ps_time(expires)}
    return json_response(200, shapes.ok("Export successful", data))


def export_file(engine: Engine, path: str, now: datetime) -> Response:
    """The CSV behind an export link (no key needed, like Paystack's signed file links)."""
    import csv
    import io

    match = EXPORT_PATH_RE.match(path)
    if match is None:
        return Response(404, b"not found", content_type="text/plain")
    try:
        spec = loads(base64.urlsafe_b64decode(match.group("token").encode()).decode())
        expires = datetime.fromisoformat(spec["exp"])
        query = {k: [v] for k, v in (("from", spec.get("from")), ("to", spec.get("to"))) if v}
        where = date_filters(Request("GET", path, query, {}, b""), sim_transactions.c.created_at)
    except (ValueError, KeyError, TypeError, binascii.Error, BadParam):
        return Response(404, b"not found", content_type="text/plain")
    if expires < now:
        return Response(403, b"Request has expired", content_type="text/plain")
    if spec.get("status") and spec["status"] != "all":
        where.append(sim_transactions.c.status == spec["status"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    t = sim_transactions.c
    with read_conn(engine) as conn:
        rows = conn.execute(select(sim_transactions).where(*where).order_by(t.created_at.desc(), t.id.desc()))
        for row in rows.mappings():
            writer.writerow(
                [
                    row["id"],
                    row["reference"],
                    row["status"],
                    row["amount"],
                    row["requested_amount"],
                    row["currency"],
                    row["gateway_response"] or "",
                    row["channel"],
                    shapes.ps_time(row["paid_at"]) or "",
                    shapes.ps_time(row["created_at"]) or "",
                    row["metadata"] or "",
                ]
            )
    return Response(200, out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8")
