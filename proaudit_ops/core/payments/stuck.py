"""`payments stuck`: pending payments, optionally verified at Paystack and fixed in one plan.

The plan also entitles each organization whose payment it marks success (one tenant_skus change
per organization, core/payments/entitled.py), from the metadata of the verify answers already
fetched: no extra Paystack call per payment.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from proaudit_ops.core.payments.diagnosis import FIXABLE, HEALTHY, Diagnosis, diagnose
from proaudit_ops.core.payments.fix import build_plan, fix_values, lock_payment, payment_change
from proaudit_ops.core.payments.views import TxView, fetch_at_paystack, paystack_view
from proaudit_ops.errors import ExitCode, PaystackError
from proaudit_ops.money import Money
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from proaudit_ops.protocols.guard import ApplyOptions, GuardResult
    from proaudit_ops.protocols.plan import Plan, RowChange
    from proaudit_ops.runtime import Runtime

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class StuckItem:
    reference: str
    amount: Money
    created_at: datetime
    age_minutes: int
    paystack_status: str | None = None
    diagnosis: Diagnosis | None = None
    explanation: str | None = None
    error: str | None = None
    _paystack: TxView | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class StuckResult:
    since: datetime
    older_than_minutes: int
    verified: bool
    items: list[StuckItem]
    fix_outcome: str | None = None  # applied | planned | aborted | nothing, with --fix
    fixed: list[str] = field(default_factory=list)
    guard: GuardResult | None = None
    sql: list[str] | None = None
    entitled: list[str] = field(default_factory=list)  # organizations whose subscription the fix extended
    notes: list[str] = field(default_factory=list)  # what the plan left out, and why

    @property
    def fixable(self) -> list[StuckItem]:
        return [i for i in self.items if i.diagnosis in FIXABLE]

    @property
    def exit_code(self) -> ExitCode:
        if self.fix_outcome == "aborted":
            return ExitCode.REFUSED
        if any(i.error for i in self.items):
            return ExitCode.UNAVAILABLE
        left = [
            i for i in self.items if i.reference not in self.fixed and (not self.verified or i.diagnosis not in HEALTHY)
        ]
        return ExitCode.FINDING if left else ExitCode.OK


def list_pending(runtime: Runtime, older_than: timedelta, since: timedelta) -> list[StuckItem]:
    from sqlalchemy import select

    from proaudit_ops.db.engine import read_only
    from proaudit_ops.db.schema import payment_transactions as pt

    now = utcnow()
    query = (
        select(pt.c.reference, pt.c.amount_kobo, pt.c.currency, pt.c.created_at)
        .where(
            pt.c.status == "pending",
            pt.c.created_at <= now - older_than,
            pt.c.created_at >= now - since,
        )
        .order_by(pt.c.created_at)
    )
    with read_only(runtime.engine()) as conn:
        rows = conn.execute(query).all()
    return [
        StuckItem(
            reference=r.reference,
            amount=Money(int(r.amount_kobo), r.currency),
            created_at=r.created_at,
            age_minutes=int((now - r.created_at).total_seconds() // 60),
        )
        for r in rows
    ]


def _verify_one(runtime: Runtime, item: StuckItem) -> StuckItem:
    from dataclasses import replace

    db = TxView(
        source="database",
        found=True,
        status="pending",
        amount=item.amount,
        currency=item.amount.currency,
    )
    try:
        ps = paystack_view(fetch_at_paystack(runtime.paystack(), item.reference))
    except PaystackError as exc:
        return replace(item, error=exc.message)
    finding = diagnose(item.reference, db, ps)
    return replace(
        item,
        paystack_status=ps.status,
        diagnosis=finding.diagnosis,
        explanation=finding.explanation,
        _paystack=ps,
    )


def settled_summary(items: list[StuckItem]) -> str:
    """What the operator approves: how many, Paystack's statuses, the total (per currency)."""
    by_status: dict[str, int] = {}
    totals: dict[str, int] = {}
    for item in items:
        status = item.paystack_status or "?"
        by_status[status] = by_status.get(status, 0) + 1
        totals[item.amount.currency] = totals.get(item.amount.currency, 0) + item.amount.subunits
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
    total = " + ".join(Money(v, c).format() for c, v in sorted(totals.items()))
    return f"{len(items)} pending payments settled at Paystack ({statuses}), total {total}"


def verify_all(
    runtime: Runtime, items: list[StuckItem], concurrency: int, progress: Progress | None
) -> list[StuckItem]:
    """Check each at Paystack with bounded concurrency (the client honours 429 Retry-After)."""
    runtime.paystack()  # build the client once, before the threads share it
    done = 0
    out: list[StuckItem] = []
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for checked in pool.map(lambda i: _verify_one(runtime, i), items):
            out.append(checked)
            done += 1
            if progress:
                progress(done, len(items))
    return out


def scan_stuck(
    runtime: Runtime,
    *,
    older_than: timedelta,
    since: timedelta,
    verify: bool,
    concurrency: int,
    progress: Progress | None = None,
) -> StuckResult:
    items = list_pending(runtime, older_than, since)
    if verify:
        items = verify_all(runtime, items, concurrency, progress)
    return StuckResult(
        since=utcnow() - since,
        older_than_minutes=int(older_than.total_seconds() // 60),
        verified=verify,
        items=items,
    )


def fix_stuck(
    runtime: Runtime,
    *,
    older_than: timedelta,
    since: timedelta,
    concurrency: int,
    options: ApplyOptions,
    confirm: Callable[[Plan], bool],
    progress: Progress | None = None,
    show_sql: bool = False,
) -> StuckResult:
    """Verify every pending payment, then fix all the fixable ones as ONE guarded plan."""
    from dataclasses import replace

    scanned = scan_stuck(
        runtime,
        older_than=older_than,
        since=since,
        verify=True,
        concurrency=concurrency,
        progress=progress,
    )
    fixable = scanned.fixable
    if not fixable:
        return replace(scanned, fix_outcome="nothing")
    from proaudit_ops.core.payments.entitled import purchase_after_fix, subscription_changes
    from proaudit_ops.db.schema import payment_transactions, tenant_skus

    guard = runtime.guard()
    notes: list[str] = []

    def build(conn: Connection) -> Plan:
        notes.clear()
        changes: list[RowChange] = []
        purchases = []
        for item in fixable:
            assert item._paystack is not None
            row = lock_payment(guard, conn, item.reference)
            change = payment_change(guard, conn, item.reference, item._paystack, row)
            if change is not None:
                changes.append(change)
                purchase = purchase_after_fix(conn, row, fix_values(item._paystack), item._paystack._metadata, notes)
                if purchase is not None:
                    purchases.append(purchase)
        fixed_refs = {c.label for c in changes}
        subscriptions = subscription_changes(guard, conn, purchases, utcnow(), notes)
        reason = settled_summary([i for i in fixable if i.reference in fixed_refs])
        if subscriptions:
            reason += f"; {len(subscriptions)} subscription(s) extended to the period paid for"
        return build_plan(reason, "bulk", changes + subscriptions)

    result = guard.execute(build, options, confirm)
    applied = result.plan.changes if result.plan and result.outcome == "applied" else ()
    fixed = [c.label for c in applied if c.table == payment_transactions.name]
    entitled = [str(c.guards["organization_id"]) for c in applied if c.table == tenant_skus.name]
    sql = guard.plan_sql(result.plan) if show_sql and result.plan else None
    return replace(
        scanned,
        fix_outcome=result.outcome,
        fixed=fixed,
        guard=result,
        sql=sql,
        entitled=entitled,
        notes=list(notes),
    )
