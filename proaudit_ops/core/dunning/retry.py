"""`dunning retry ORG`: one charge of the active record, exactly once per attempt, never twice per period.

The reference is derived from the subscription, the period being paid and the attempt number
(`DUN-<subscription>-<period end>-<attempt>`), and the intent's op key is `charge:<reference>`: a
rerun after a crash or a lost answer finds the same intent and verifies that reference at Paystack
before anything else (protocols/intents.py). Refused (exit 4): maintenance mode on (unless
--force), no active record, a record Paystack's answers say not to retry (card regulated within
its 24 h, insufficient funds twice in a row, 2FA pending), no reusable card.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.dunning.records import OrgDunning, find_org, is_regulated, load
from proaudit_ops.errors import ExitCode, Refused
from proaudit_ops.timeutil import as_utc, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from proaudit_ops.protocols.guard import ApplyOptions, GuardResult
    from proaudit_ops.protocols.intents import Intent, IntentResult
    from proaudit_ops.protocols.plan import Plan
    from proaudit_ops.runtime import Runtime

ACTION = "dunning.retry"


@dataclass(frozen=True)
class RetryResult:
    organization: str
    op_key: str
    reference: str
    outcome: str  # applied | planned | aborted | resumed | nothing
    guard: GuardResult | None = None
    resumed: IntentResult | None = None
    intent: Intent | None = None
    record: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def charge_status(self) -> str | None:
        r = self.record
        if r is None:
            return None
        return "recovered" if r["status"] == "recovered" else str(r.get("last_failure_reason") or r["status"])

    @property
    def exit_code(self) -> ExitCode:
        if self.outcome == "aborted":
            return ExitCode.REFUSED
        if self.record is not None and self.record["status"] != "recovered" and self.outcome != "planned":
            return ExitCode.FINDING  # charged, Paystack declined: still owed
        return ExitCode.OK


def charge_reference(sku_id: str, period_end: datetime | None, attempt: int) -> str:
    period = period_end.strftime("%Y%m%d") if period_end is not None else "none"
    return f"DUN-{sku_id.replace('-', '')[:12]}-{period}-{attempt}"


def refusal(state: OrgDunning, record: dict[str, Any] | None, now: datetime) -> str | None:
    """Why this record must not be charged now (None: it may be)."""
    name = state.org["name"]
    if record is None:
        done = [r for r in state.records if r["status"] != "active"]
        what = f" (latest: {done[-1]['status']})" if done else ""
        return f"{name} has no active dunning record{what}: nothing to retry"
    reason = record.get("last_failure_reason")
    retry_at = as_utc(record.get("next_retry_at"))
    if int(record["attempt_count"] or 0) >= int(record["max_attempts"] or 4):
        return f"{name}: all {record['max_attempts']} attempts were made"
    if is_regulated(reason) and retry_at is not None and retry_at > now:
        when = f"{retry_at:%Y-%m-%d %H:%M} UTC"
        return f"{name}: Paystack regulated the card ({reason}); it may be charged again after {when}"
    if retry_at is None and reason and reason.startswith("payment link "):
        return f"{name}: {reason} (a charge now could take the money twice)"
    if retry_at is None:
        return f"{name}: Paystack's last answer says not to retry ({reason})"
    return None


def _sku_period(sku: dict[str, Any], now: datetime) -> tuple[datetime, datetime]:
    from proaudit_ops.core.entitlement import period_end

    start = as_utc(sku.get("current_period_end")) or now
    return start, period_end(start, str(sku["billing_cycle"]))


def authorization_for(runtime: Runtime, state: OrgDunning, conn: Connection) -> str | None:
    """The reusable card authorization of the organization's latest successful payment (Paystack's)."""
    from sqlalchemy import select

    from proaudit_ops.db.schema import payment_transactions as pt

    rows = conn.execute(
        select(pt.c.reference)
        .where(pt.c.organization_id == str(state.org["id"]), pt.c.status == "success")
        .order_by(pt.c.created_at.desc())
        .limit(3)
    ).all()
    client = runtime.paystack()
    for (reference,) in rows:
        tx = client.verify_transaction(str(reference))
        auth = tx.authorization
        if auth is not None and auth.reusable and auth.authorization_code:
            return str(auth.authorization_code)
    return None


def retry_org(
    runtime: Runtime,
    who: str,
    options: ApplyOptions,
    confirm: Callable[[Plan], bool],
    *,
    force: bool = False,
    now: datetime | None = None,
) -> RetryResult:
    from proaudit_ops.core.recovery.maintenance import maintenance_on
    from proaudit_ops.db.engine import read_only
    from proaudit_ops.protocols.intents import OPEN_STATES, get_intent, resume

    now = now or utcnow()
    guard = runtime.guard()
    if not force and maintenance_on(runtime):
        message = "maintenance mode is on: no dunning charge is sent"
        guard.record_refusal(ACTION, message, {"target": who})
        raise Refused(message, hint="wait for `proaudit recovery maintenance off`, or pass --force if this one must go")
    with read_only(runtime.engine()) as conn:
        state = load(conn, find_org(conn, who))
    name = str(state.org["name"])
    open_ = [i for i in state.intents if i.state in OPEN_STATES]
    if open_:  # an earlier run was cut off: ask Paystack about its reference first, never a new charge
        if options.dry_run or options.plan_out is not None:
            raise Refused(f"intent {open_[0].op_key} is {open_[0].state}", hint=f"proaudit dunning retry {who!r} --yes")
        resumed = resume(guard, open_[0].op_key)
        with read_only(runtime.engine()) as conn:
            after = load(conn, state.org)
        rec = next((r for r in after.records if str(r["id"]) == open_[0].target), None)
        return RetryResult(
            name,
            open_[0].op_key,
            str(open_[0].params["reference"]),
            "resumed",
            resumed=resumed,
            intent=resumed.intent,
            record=rec,
            notes=[f"an earlier run was cut off ({open_[0].state}): verified its reference at Paystack first"],
        )
    record = state.open_record
    why = refusal(state, record, now)
    if why is not None:
        guard.record_refusal(ACTION, why, {"target": name})
        link = f"a payment link: proaudit dunning link {who!r}"
        hint = f"proaudit dunning status {who!r}" if record is None else link
        raise Refused(why, hint=hint)
    assert record is not None
    if state.sku is None:
        raise Refused(f"{name} has no subscription row")
    attempt = int(record["attempt_count"] or 0) + 1
    reference = charge_reference(str(state.sku["id"]), as_utc(state.sku.get("current_period_end")), attempt)
    op_key = f"charge:{reference}"
    with read_only(runtime.engine()) as conn:
        existing = get_intent(conn, op_key)
        code = authorization_for(runtime, state, conn)
    if existing is not None and existing.state == "done":
        raise Refused(f"already charged: intent {op_key} is done", hint=f"proaudit dunning status {who!r}")
    if code is None:
        message = f"{name} has no reusable card authorization at Paystack"
        guard.record_refusal(ACTION, message, {"target": name})
        raise Refused(message, hint=f"send the customer a payment link: proaudit dunning link {who!r}")
    start, end = _sku_period(state.sku, now)
    params: dict[str, Any] = {
        "target": str(record["id"]),
        "reference": reference,
        "attempt": attempt,
        "organization_id": str(state.org["id"]),
        "email": str(state.org["email"]),
        "amount": int(record["amount_kobo"]),
        "currency": str(record["currency"]),
        "authorization_code": code,
        "payment_id": str(record["payment_transaction_id"]) if record["payment_transaction_id"] else None,
        "sku_id": str(state.sku["id"]),
        "tier": str(state.sku["tier"]),
        "billing_cycle": str(state.sku["billing_cycle"]),
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
    }

    def build(conn: Connection) -> Plan:
        return build_plan(guard, conn, record, params, op_key, now)

    result = guard.execute(build, options, confirm, action=ACTION)
    with read_only(runtime.engine()) as conn:
        intent = get_intent(conn, op_key)
        after = load(conn, state.org)
    rec = next((r for r in after.records if str(r["id"]) == str(record["id"])), None)
    return RetryResult(name, op_key, reference, result.outcome, guard=result, intent=intent, record=rec)


def build_plan(
    guard: Any, conn: Connection, seen: dict[str, Any], params: dict[str, Any], op_key: str, now: datetime
) -> Plan:
    from proaudit_ops.core.dunning.kind import dunning_change
    from proaudit_ops.db.schema import dunning_records as d
    from proaudit_ops.protocols.plan import ExternalStep, Plan

    row = guard.lock_rows(conn, d, d.c.id == str(seen["id"]), expect=1)[0]
    if row["status"] != "active" or row["attempt_count"] != seen["attempt_count"]:
        raise Refused("the dunning record changed while it was being checked", hint="run it again")
    change = dunning_change(row, {"attempt_count": int(params["attempt"])})
    body = {k: params[k] for k in ("email", "amount", "currency", "reference")}
    body["authorization_code"] = str(params["authorization_code"])
    step = ExternalStep(
        kind="charge",
        op_key=op_key,
        call={"method": "POST", "path": "/transaction/charge_authorization", "body": body},
        params=params,
    )
    return Plan(
        action=ACTION,
        reason=f"dunning retry {params['attempt']} of {params['organization_id']}",
        changes=(change,),
        created_at=now,
        target=str(params["reference"]),
        external=step,
    )
