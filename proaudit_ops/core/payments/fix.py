"""`payments verify REF --fix`: the runbook's hand-typed UPDATE, through the change guard.

Only two diagnoses are fixed automatically: stuck (Paystack success, database pending) and
not-paid (abandoned/failed at Paystack, pending here). Amount or currency mismatches never are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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

    @property
    def exit_code(self) -> ExitCode:
        if self.outcome in ("applied", "planned", "nothing"):  # nothing: fixed meanwhile, by someone else
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


def payment_change(guard: ChangeGuard, conn: Connection, reference: str, paystack: TxView) -> RowChange | None:
    """Lock the payment row and describe its fix; None when it is no longer pending.

    The reference must name exactly one row (a billing database without the unique constraint may
    hold two): any other count is refused, never one of them changed.
    """
    from proaudit_ops.db.schema import payment_transactions as pt
    from proaudit_ops.protocols.plan import RowChange

    (row,) = guard.lock_rows(conn, pt, pt.c.reference == reference, expect=1)
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
    verify = verify_payment(runtime, reference)
    if not verify.fixable:
        return FixResult(verify=verify, outcome="not_fixable", guard=None)
    guard = runtime.guard()

    def build(conn: Connection) -> Plan:
        change = payment_change(guard, conn, reference, verify.paystack)
        return build_plan(verify.explanation, reference, [change] if change else [])

    result = guard.execute(build, options, confirm)
    sql = guard.plan_sql(result.plan) if show_sql and result.plan else None
    return FixResult(verify=verify, outcome=result.outcome, guard=result, sql=sql)
