"""Guarded subscription changes: activate, convert-trial, extend, set-tier, cancel.

Each is a small plan builder (lock the organization's tenant_skus row, compute the new values,
one RowChange) run through the change guard, so every change has a plan, --dry-run, a prompt or
--yes, --live, --plan-out and an audit record. The builders never call Paystack: what a payment
bought is looked up before (coverage.py), and the payment is re-checked inside the transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.entitlement import (
    Entitlement,
    normalize_cycle,
    normalize_tier,
    period_end,
    subscription_state,
)
from proaudit_ops.core.subscriptions.coverage import Covered, MetadataLookup, covering_payment, paid_periods
from proaudit_ops.core.subscriptions.orgs import resolve_organization
from proaudit_ops.errors import ExitCode, NotFoundError, Refused, UsageError
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from proaudit_ops.protocols.guard import ApplyOptions, ChangeGuard, GuardResult
    from proaudit_ops.protocols.plan import Plan, RowChange
    from proaudit_ops.runtime import Runtime

KINDS = ("activate", "convert_trial", "extend", "set_tier", "cancel")
TOUCH = ("updated_at",)  # set to the time of apply by the guard: never a timestamp in the plan
MAX_EXTEND_DAYS = 60  # grace, not a free plan: longer needs a payment and `activate`
MAX_REASON_CHARS = 500
MAX_BACKDATE = timedelta(days=400)  # --from: an annual period at most (plus slack) in the past


@dataclass(frozen=True)
class ChangeRequest:
    kind: str
    tier: str | None = None
    cycle: str | None = None
    start: datetime | None = None  # --from
    days: int | None = None
    reason: str | None = None
    at_period_end: bool = True


@dataclass(frozen=True)
class SubscriptionChange:
    organization_id: str
    organization: str
    kind: str
    outcome: str  # applied | planned | aborted | nothing
    guard: GuardResult
    before: dict[str, Any] | None
    after: dict[str, Any] | None  # the row after the change (applied) or as planned
    state_before: str | None
    state_after: str | None
    covered_by: str | None = None  # the payment reference that pays for an activation
    note: str = ""
    sql: list[str] | None = field(default=None)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.REFUSED if self.outcome == "aborted" else ExitCode.OK


def validate_request(request: ChangeRequest, now: datetime) -> ChangeRequest:
    """Bad input is exit 2 before anything is read."""
    if request.kind not in KINDS:
        raise UsageError(f"unknown subscription change {request.kind!r}")
    reason = request.reason.strip() if request.reason is not None else None
    if reason is not None and (not reason or len(reason) > MAX_REASON_CHARS or any(ord(c) < 32 for c in reason)):
        raise UsageError(f"--reason must be 1-{MAX_REASON_CHARS} printable characters on one line")
    if request.kind in ("extend", "set_tier", "cancel") and not reason:
        raise UsageError(f"{request.kind.replace('_', '-')} needs --reason (it goes to the audit log)")
    tier, cycle = request.tier, request.cycle
    try:
        tier = normalize_tier(tier) if tier is not None else None
        cycle = normalize_cycle(cycle) if cycle is not None else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if request.kind == "activate" and (tier is None or cycle is None):
        raise UsageError("activate needs --tier and --cycle")
    if request.kind == "set_tier" and tier is None:
        raise UsageError("set-tier needs a tier")
    if request.kind == "extend" and (request.days is None or not 1 <= request.days <= MAX_EXTEND_DAYS):
        raise UsageError(f"--days must be between 1 and {MAX_EXTEND_DAYS}")
    if request.kind == "cancel" and not request.at_period_end:
        raise UsageError("only --at-period-end cancellation is offered: the customer keeps what they paid for")
    if request.start is not None:
        if request.start.tzinfo is None:
            raise UsageError("--from must be a UTC date or time")
        if request.start > now:
            raise UsageError("--from is in the future")
        if request.start < now - MAX_BACKDATE:
            raise UsageError(f"--from is more than {MAX_BACKDATE.days} days in the past")
    return ChangeRequest(request.kind, tier, cycle, request.start, request.days, reason, request.at_period_end)


def change_subscription(
    engine: Engine,
    guard: ChangeGuard,
    org: str,
    request: ChangeRequest,
    options: ApplyOptions,
    confirm: Callable[[Plan], bool],
    *,
    metadata_for: MetadataLookup | None = None,
    now: datetime | None = None,
    show_sql: bool = False,
) -> SubscriptionChange:
    """Plan the change for ORG, then dry-run, confirm or apply it through the guard."""
    from proaudit_ops.db.engine import read_only

    now = now or utcnow()
    request = validate_request(request, now)
    with read_only(engine) as conn:
        organization = resolve_organization(conn, org)
    org_id = str(organization["id"])
    covered: Covered | None = None
    if request.kind in ("activate", "convert_trial"):
        covered = _coverage(engine, org_id, request, organization["name"], now, metadata_for)
    notes: list[str] = []

    def build(conn: Connection) -> Plan:
        return build_plan(guard, conn, organization, request, covered, now, notes)

    result = guard.execute(build, options, confirm, action=f"subscriptions.{request.kind}")
    assert result.plan is not None
    change = result.plan.changes[0] if result.plan.changes else None
    before = _typed(change.before) if change is not None else None
    if result.outcome == "applied" and result.rows:
        after: dict[str, Any] | None = result.rows[0]
    elif change is not None:
        after = _typed({**change.before, **change.new_values})
    else:
        after = None
    sql = guard.plan_sql(result.plan) if show_sql else None
    return SubscriptionChange(
        organization_id=org_id,
        organization=str(organization["name"]),
        kind=request.kind,
        outcome=result.outcome,
        guard=result,
        before=before,
        after=after,
        state_before=_state(before, now),
        state_after=_state(after, now),
        covered_by=covered.by.reference if covered is not None else None,
        note="; ".join(notes),
        sql=sql,
    )


def run_change(
    runtime: Runtime,
    org: str,
    request: ChangeRequest,
    options: ApplyOptions,
    confirm: Callable[[Plan], bool],
    *,
    show_sql: bool = False,
) -> SubscriptionChange:
    """The CLI's entry: the runtime's database, guard and (for activations) Paystack's metadata."""
    from proaudit_ops.core.subscriptions.coverage import paystack_lookup

    return change_subscription(
        runtime.engine(),
        runtime.guard(),
        org,
        request,
        options,
        confirm,
        metadata_for=paystack_lookup(runtime.paystack),
        show_sql=show_sql,
    )


def _coverage(
    engine: Engine,
    org_id: str,
    request: ChangeRequest,
    name: str,
    now: datetime,
    metadata_for: MetadataLookup | None,
) -> Covered | None:
    """The paying payment, or None when --reason stands in for it; refused (exit 4) otherwise."""
    from proaudit_ops.core.entitlement import subscription_row
    from proaudit_ops.db.engine import read_only

    tier, cycle = request.tier, request.cycle
    if request.kind == "convert_trial":
        with read_only(engine) as conn:
            sku = subscription_row(conn, org_id)
        if sku is None:
            raise NotFoundError(f"{name} has no tenant_skus row")
        tier, cycle = tier or normalize_tier(sku["tier"]), cycle or normalize_cycle(sku["billing_cycle"])
    assert tier is not None and cycle is not None
    periods = paid_periods(engine, org_id, metadata_for)
    covered = covering_payment(periods, tier, cycle, request.start, now)
    if covered is not None or request.reason:
        return covered
    problems = "; ".join(f"{p.reference}: {p.problem}" for p in periods if p.problem)
    seen = f" (looked at {', '.join(p.reference for p in periods)}{'; ' + problems if problems else ''})"
    raise Refused(
        f"no successful payment of {name} covers {tier} {cycle}"
        + (f" from {request.start.isoformat()}" if request.start else "")
        + (seen if periods else " (it has no successful payment)"),
        hint="fix the payment first (proaudit payments verify REF --fix), or pass --reason to do it anyway (audited)",
    )


def build_plan(
    guard: ChangeGuard,
    conn: Connection,
    organization: dict[str, Any],
    request: ChangeRequest,
    covered: Covered | None,
    now: datetime,
    notes: list[str],
) -> Plan:
    """Lock the row, compute its new values, and describe the change (no change: an empty plan)."""
    from proaudit_ops.db.schema import tenant_skus as ts
    from proaudit_ops.protocols.plan import Plan, RowChange

    org_id = str(organization["id"])
    row = _one_sku(guard, conn, org_id, f"{organization['name']} has no tenant_skus row: nothing to change")
    if covered is not None:
        _recheck_payment(conn, covered)
    values, why = new_values(row, request, covered, now)
    notes.append(why)
    changed = {k: v for k, v in values.items() if _differs(row.get(k), v)}
    changes: list[RowChange] = []
    if changed:
        changes.append(
            RowChange(
                table=ts.name,
                key={"id": row["id"]},
                guards={"organization_id": org_id},
                new_values=changed,
                before=row,
                label=str(organization["name"]),
                touch=TOUCH,
            )
        )
    reason = why if request.reason is None else f"{why}; reason: {request.reason}"
    return Plan(
        action=f"subscriptions.{request.kind}",
        reason=reason,
        changes=tuple(changes),
        created_at=now,
        target=org_id,
    )


def new_values(
    row: dict[str, Any], request: ChangeRequest, covered: Covered | None, now: datetime
) -> tuple[dict[str, Any], str]:
    """The tenant_skus values the change sets, and one line saying why."""
    from proaudit_ops.timeutil import as_utc

    state = subscription_state(row, now)
    kind = request.kind
    if kind in ("activate", "convert_trial"):
        if kind == "convert_trial" and row.get("trial_ends_at") is None:
            raise Refused(f"not a trial (state {state}): nothing to convert", hint="use subscriptions activate")
        tier = request.tier or normalize_tier(row["tier"])
        cycle = request.cycle or normalize_cycle(row["billing_cycle"])
        if covered is not None:
            start, end = covered.start, covered.end
            why = f"{kind.replace('_', '-')} {tier} {cycle}: paid by {covered.by.reference}"
        else:
            start = request.start or now
            end = period_end(start, cycle)
            why = f"{kind.replace('_', '-')} {tier} {cycle} without a covering payment"
        if end <= now:
            raise UsageError(f"that period would end {end.isoformat()}, already past: nothing to activate")
        values = {
            "tier": tier,
            "billing_cycle": cycle,
            "is_active": True,
            "current_period_start": start,
            "current_period_end": end,
            "trial_ends_at": None,
            "cancel_at_period_end": False,
            "cancellation_reason": None,
        }
        return values, why
    if kind == "extend":
        if state == "cancelled":
            raise Refused("the subscription is cancelled: extend gives grace to a live one", hint="use activate")
        assert request.days is not None
        current_end = as_utc(row.get("current_period_end"))
        base = current_end if current_end is not None and current_end > now else now
        new_end = base + timedelta(days=request.days)
        values = {"current_period_end": new_end}
        if state == "trial":
            values["trial_ends_at"] = new_end
        return values, f"extend by {request.days} day(s) of grace to {new_end.isoformat()}"
    if kind == "set_tier":
        assert request.tier is not None
        return {"tier": request.tier}, f"set tier {row['tier']} -> {request.tier}"
    if state == "cancelled":
        raise Refused("the subscription is already cancelled")
    return (
        {"cancel_at_period_end": True, "cancellation_reason": request.reason},
        f"cancel at the period end ({_iso(row.get('current_period_end'))})",
    )


def coverage_change(
    guard: ChangeGuard, conn: Connection, paid_for: Entitlement, now: datetime, *, label: str | None = None
) -> RowChange | None:
    """The tenant_skus change that makes the row cover `paid_for` (None when it already does).

    For a plan builder that fixes a payment and its entitlement in one guarded transaction (the
    payments verify/stuck fix, a replay check): lock the row, then mirror what the app does on
    charge.success (active, the period bought, trial over), raising the tier to the one bought
    if it was lower and never shortening a period that already ends later.
    """
    from proaudit_ops.core.entitlement import covers, tier_at_least
    from proaudit_ops.db.schema import tenant_skus as ts
    from proaudit_ops.protocols.plan import RowChange
    from proaudit_ops.timeutil import as_utc

    row = _one_sku(
        guard,
        conn,
        paid_for.organization_id,
        f"organization {paid_for.organization_id} has no tenant_skus row to entitle",
    )
    if covers(row, paid_for, now).covered:
        return None
    end = as_utc(row.get("current_period_end"))
    keep_later = end is not None and end > paid_for.period_end
    values: dict[str, Any] = {
        "is_active": True,
        "trial_ends_at": None,
        "current_period_start": row["current_period_start"] if keep_later else paid_for.period_start,
        "current_period_end": end if keep_later else paid_for.period_end,
        "billing_cycle": row["billing_cycle"] if keep_later else paid_for.billing_cycle,
    }
    if not tier_at_least(str(row["tier"]), paid_for.tier):
        values["tier"] = paid_for.tier
    changed = {k: v for k, v in values.items() if _differs(row.get(k), v)}
    return RowChange(
        table=ts.name,
        key={"id": row["id"]},
        guards={"organization_id": paid_for.organization_id},
        new_values=changed,
        before=row,
        label=label or f"subscription of {paid_for.payment_reference or paid_for.organization_id}",
        touch=TOUCH,
    )


def _one_sku(guard: ChangeGuard, conn: Connection, org_id: str, missing: str) -> dict[str, Any]:
    """The organization's tenant_skus row, locked; none -> NotFound, several -> refused (ambiguous)."""
    from proaudit_ops.db.schema import tenant_skus as ts
    from proaudit_ops.protocols.staleness import count_mismatch

    rows = guard.lock_rows(conn, ts, ts.c.organization_id == org_id)
    if not rows:
        raise NotFoundError(missing)
    if len(rows) > 1:
        raise count_mismatch(ts.name, f"organization_id = {org_id!r}", len(rows), 1)
    return rows[0]


def _recheck_payment(conn: Connection, covered: Covered) -> None:
    from sqlalchemy import select

    from proaudit_ops.db.schema import payment_transactions as pt

    status = conn.execute(select(pt.c.status).where(pt.c.id == covered.by.payment_id)).scalar()
    if status != "success":
        raise Refused(
            f"payment {covered.by.reference} is now {status or 'gone'}: it no longer pays for this",
            hint="look at it again: proaudit payments show " + covered.by.reference,
        )


def _typed(plain: dict[str, Any]) -> dict[str, Any]:
    """A plan's JSON row back to column values (ISO strings -> aware datetimes)."""
    from proaudit_ops.db.schema import tenant_skus
    from proaudit_ops.protocols.plan_schema import coerce

    return {
        name: coerce(tenant_skus.c[name], value) if name in tenant_skus.c else value for name, value in plain.items()
    }


def _differs(current: Any, new: Any) -> bool:
    from proaudit_ops.timeutil import as_utc

    if isinstance(current, datetime) or isinstance(new, datetime):
        a = as_utc(current) if isinstance(current, datetime) else current
        b = as_utc(new) if isinstance(new, datetime) else new
        return bool(a != b)
    return bool(current != new)


def _state(row: dict[str, Any] | None, now: datetime) -> str | None:
    return subscription_state(row, now) if row is not None else None


def _iso(value: Any) -> str:
    from proaudit_ops.timeutil import iso

    return (iso(value) if isinstance(value, datetime) else None) or "unset"
