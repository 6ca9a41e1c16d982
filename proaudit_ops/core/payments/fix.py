"""`payments verify REF --fix`: the runbook's hand-typed UPDATE, through the change guard.

Three diagnoses are fixed automatically: stuck (Paystack success, database pending), not-paid
(abandoned/failed at Paystack, pending here) and paid-not-entitled (success on both sides, the
subscription short of what the payment bought). Amount or currency mismatches never are.

A successful payment is fixed together with its entitlement: the plan holds the payment row AND
the organization's tenant_skus row (core/payments/entitled.py), applied in one transaction by
the change guard, so a crash leaves both as they were or both fixed (docs/entitlement.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.payments.diagnosis import Diagnosis
from proaudit_ops.core.payments.entitled import ENTITLED, NOT_APPLICABLE, EntitlementCheck
from proaudit_ops.core.payments.verify import VerifyResult, verify_payment
from proaudit_ops.errors import ExitCode
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from proaudit_ops.core.payments.views import TxView
    from proaudit_ops.protocols.guard import ApplyOptions, ChangeGuard, GuardResult
    from proaudit_ops.protocols.plan import Plan, RowChange
    from proaudit_ops.runtime import Runtime

FIX_ACTION = "payments.fix"


@dataclass(frozen=True)
class FixResult:
    verify: VerifyResult
    outcome: str  # applied | planned | aborted | nothing | not_fixable
    guard: GuardResult | None
    sql: list[str] | None = None
    entitlement: EntitlementCheck | None = None  # after an applied (or nothing-to-do) fix: as it is now
    notes: list[str] | None = None  # what the plan left out, and why

    @property
    def exit_code(self) -> ExitCode:
        if self.outcome in ("applied", "nothing"):  # nothing: fixed meanwhile, by someone else
            left = self.entitlement is not None and self.entitlement.status not in (ENTITLED, NOT_APPLICABLE)
            return ExitCode.FINDING if left else ExitCode.OK  # paid and still not entitled: not done
        if self.outcome == "planned":
            return ExitCode.OK
        if self.outcome == "aborted":
            return ExitCode.REFUSED
        return self.verify.exit_code


TOUCH = ("updated_at",)  # set to the time of apply by the guard, never a timestamp in the plan


def fix_values(paystack: TxView) -> dict[str, Any]:
    """What the row becomes: Paystack's status, and for success Paystack's paid_at (not now).

    Only values from Paystack: two plans of the same fix are the same plan (same hash)."""
    values: dict[str, Any] = {"status": paystack.status}
    if paystack.status == "success":
        values["paid_at"] = paystack.paid_at
        values["gateway_response"] = paystack.gateway_response
    elif paystack.gateway_response:
        values["gateway_response"] = paystack.gateway_response
    if paystack.channel:
        values["channel"] = paystack.channel
    if paystack.paystack_id is not None:
        values["paystack_transaction_id"] = paystack.paystack_id
    return values


def lock_payment(guard: ChangeGuard, conn: Connection, reference: str) -> dict[str, Any]:
    """The payment row, locked. The reference must name exactly one row (a billing database without
    the unique constraint may hold two): any other count is refused, never one of them changed."""
    from proaudit_ops.db.schema import payment_transactions as pt

    (row,) = guard.lock_rows(conn, pt, pt.c.reference == reference, expect=1)
    return row


def payment_change(
    guard: ChangeGuard, conn: Connection, reference: str, paystack: TxView, row: dict[str, Any] | None = None
) -> RowChange | None:
    """Lock the payment row (unless given, locked) and describe its fix; None when it is no longer pending."""
    from proaudit_ops.db.schema import payment_transactions as pt
    from proaudit_ops.protocols.plan import RowChange

    if row is None:
        row = lock_payment(guard, conn, reference)
    if row["status"] != "pending":
        return None
    new_values = {k: v for k, v in fix_values(paystack).items() if row.get(k) != v}
    return RowChange(
        table=pt.name,
        key={"id": row["id"]},
        guards={"status": "pending"},
        new_values=new_values,
        before=row,
        label=reference,
        touch=TOUCH,
    )


def build_plan(reason: str, target: str, changes: list[RowChange]) -> Plan:
    from proaudit_ops.protocols.plan import Plan

    return Plan(action=FIX_ACTION, reason=reason, changes=tuple(changes), created_at=utcnow(), target=target)


def fix_payment(
    runtime: Runtime,
    reference: str,
    options: ApplyOptions,
    confirm: Callable[[Plan], bool],
    *,
    show_sql: bool = False,
) -> FixResult:
    from proaudit_ops.core.payments.entitled import check_now

    verify = verify_payment(runtime, reference)
    if not verify.fixable:
        return FixResult(verify=verify, outcome="not_fixable", guard=None)
    guard = runtime.guard()
    notes: list[str] = []

    def build(conn: Connection) -> Plan:
        notes.clear()  # the guard may plan more than once
        changes = fix_changes(guard, conn, reference, verify, notes)
        return build_plan(verify.explanation, reference, changes)

    result = guard.execute(build, options, confirm)
    sql = guard.plan_sql(result.plan) if show_sql and result.plan else None
    after = None
    if result.outcome in ("applied", "nothing"):
        after = check_now(runtime.engine(), reference, verify.paystack._metadata, utcnow())
    return FixResult(verify=verify, outcome=result.outcome, guard=result, sql=sql, entitlement=after, notes=list(notes))


def fix_changes(
    guard: ChangeGuard, conn: Connection, reference: str, verify: VerifyResult, notes: list[str]
) -> list[RowChange]:
    """The payment row's change (stuck, not paid) and the subscription's (whenever it ends up a paid
    success the row does not cover), from the rows as locked now, not as verify read them."""
    from proaudit_ops.core.payments.entitled import purchase_after_fix, subscription_changes

    row = lock_payment(guard, conn, reference)
    changes: list[RowChange] = []
    fixed: dict[str, Any] = {}
    if verify.diagnosis in (Diagnosis.STUCK, Diagnosis.NOT_PAID):
        change = payment_change(guard, conn, reference, verify.paystack, row)
        if change is not None:
            changes.append(change)
            fixed = fix_values(verify.paystack)
    purchase = purchase_after_fix(conn, row, fixed, verify.paystack._metadata, notes)
    if purchase is not None:
        changes += subscription_changes(guard, conn, [purchase], utcnow(), notes)
    return changes
