"""`reconcile --fix`: the fixable categories as ONE guarded plan.

stuck and not_paid: the payment row takes Paystack's status (payments/fix.py's `payment_change`);
a stuck payment's entitlement is planned with it (subscriptions/changes.py's `coverage_change`), so
the fix is finished in one transaction. paid_not_entitled: the subscription row covers the payment.
One tenant_skus change per organization: the payment whose period ends last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.reconcile.compare import QUERIES, Category, not_entitled

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from proaudit_ops.core.entitlement import Entitlement
    from proaudit_ops.core.payments.views import TxView
    from proaudit_ops.protocols.guard import ApplyOptions, ChangeGuard, GuardResult
    from proaudit_ops.protocols.plan import Plan, RowChange

FIX_ACTION = "reconcile.fix"
_STAGED_TX = (
    "SELECT s.reference, s.status, s.amount, s.requested_amount, s.currency, s.paid_at, s.gateway_response, "
    "s.channel, s.paystack_id, s.metadata FROM ops_reconcile_rows s WHERE s.run_id = :run AND s.kind = 'tx' "
    "AND s.reference IN (SELECT q.reference FROM ({inner}) q)"
)


@dataclass
class FixOutcome:
    outcome: str  # applied | planned | aborted | nothing
    guard: GuardResult | None = None
    fixed: list[str] = field(default_factory=list)  # references whose drift the plan fixes
    skipped: list[str] = field(default_factory=list)  # fixable in kind, but not here (why in the log)
    sql: list[str] | None = None


def _view(row: Any, dialect: Any) -> TxView:
    from proaudit_ops.core.payments.views import TxView
    from proaudit_ops.db.schema import UTCDateTime
    from proaudit_ops.money import Money

    paid_at = UTCDateTime().process_result_value(row.paid_at, dialect)
    return TxView(
        source="paystack",
        found=True,
        status=row.status,
        amount=Money(int(row.amount), row.currency),
        currency=row.currency,
        paid_at=paid_at,
        gateway_response=row.gateway_response,
        channel=row.channel,
        paystack_id=int(row.paystack_id) if row.paystack_id is not None else None,
    )


def _staged(conn: Connection, run_id: str, category: str) -> list[Any]:
    from sqlalchemy import text

    inner = QUERIES[category].rsplit(" ORDER BY ", 1)[0]
    return list(conn.execute(text(_STAGED_TX.format(inner=inner)), {"run": run_id}))


def _entitlement(conn: Connection, payment: dict[str, Any], metadata: object) -> Entitlement | None:
    from proaudit_ops.core.entitlement import EntitlementError, entitlement_for_payment

    try:
        return entitlement_for_payment(conn, payment, metadata)
    except EntitlementError:
        return None


def plan_fix(
    guard: ChangeGuard,
    run_id: str,
    now: datetime,
    options: ApplyOptions,
    confirm: Callable[[Plan], bool],
    *,
    show_sql: bool = False,
) -> FixOutcome:
    from proaudit_ops.core.payments.fix import TOUCH, payment_change
    from proaudit_ops.core.payments.views import read_payment_row
    from proaudit_ops.core.subscriptions.changes import coverage_change
    from proaudit_ops.errors import NotFoundError
    from proaudit_ops.protocols.plan import Plan

    fixed: list[str] = []
    skipped: list[str] = []

    def build(conn: Connection) -> Plan:
        fixed.clear()
        skipped.clear()
        changes: list[RowChange] = []
        bought: dict[str, tuple[Entitlement, list[str]]] = {}  # organization -> latest period bought, payments

        def want(paid_for: Entitlement | None, reference: str) -> None:
            if paid_for is None:
                return
            held = bought.get(paid_for.organization_id)
            refs = [*(held[1] if held else []), reference]
            best = paid_for if held is None or paid_for.period_end > held[0].period_end else held[0]
            bought[paid_for.organization_id] = (best, refs)

        for category in ("stuck", "not_paid"):
            for row in _staged(conn, run_id, category):
                view = _view(row, conn.dialect)
                change = payment_change(guard, conn, row.reference, view)
                if change is None:
                    continue
                changes.append(change)
                fixed.append(row.reference)
                if view.status == "success":
                    after = {**change.before, "status": view.status, "paid_at": view.paid_at}
                    want(_entitlement(conn, after, row.metadata), row.reference)
        late = Category("paid_not_entitled")
        not_entitled(conn, run_id, now, late, max_refs=10**9)
        for reference in late.references:
            payment = read_payment_row(conn, reference)
            metadata = _metadata(conn, run_id, reference)
            paid_for = _entitlement(conn, payment, metadata) if payment is not None else None
            if paid_for is None:
                skipped.append(reference)  # unusable metadata or no longer a paid success: a human decides
                continue
            want(paid_for, reference)
        for paid_for, refs in bought.values():
            try:
                label = f"subscription of {paid_for.payment_reference}"
                cover = coverage_change(guard, conn, paid_for, now, label=label)
            except NotFoundError:
                skipped.extend(r for r in refs if r not in fixed)
                continue
            if cover is not None:
                changes.append(cover)
            fixed.extend(r for r in refs if r not in fixed)
        assert all(c.touch == TOUCH for c in changes)
        counts = f"{len(changes)} row change(s) for {len(fixed)} payment(s)"
        return Plan(
            action=FIX_ACTION,
            reason=f"reconcile: settle payments from Paystack and entitle what was paid ({counts})",
            changes=tuple(changes),
            created_at=now,
            target="bulk",
        )

    result = guard.execute(build, options, confirm, action=FIX_ACTION)
    sql = guard.plan_sql(result.plan) if show_sql and result.plan else None
    return FixOutcome(
        outcome=result.outcome,
        guard=result,
        fixed=list(fixed) if result.outcome == "applied" else [],
        skipped=list(skipped),
        sql=sql,
    )


def _metadata(conn: Connection, run_id: str, reference: str) -> object:
    from sqlalchemy import text

    return conn.execute(
        text("SELECT metadata FROM ops_reconcile_rows WHERE run_id = :run AND kind = 'tx' AND reference = :ref"),
        {"run": run_id, "ref": reference},
    ).scalar()
