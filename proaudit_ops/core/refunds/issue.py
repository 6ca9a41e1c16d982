"""`refunds issue PAYMENT`: one refund at Paystack and the rows that record it, exactly once.

Before any lock: the payment, Paystack's refunds of its transaction and the eligibility (no HTTP
while rows are locked). The op key is `refund:<payment reference>:<amount>` (`:<n>` with --another for a
further partial refund of the same amount), so two operators refunding the same collide on the
intent's primary key, and a second identical `refunds issue` finds the first (done: refused, exit 4;
left open by a crash: resumed). The plan is the Paystack call plus the row changes (payment, and the
subscription for --downgrade / --cancel-at-period-end); the guard shows it, and confirming runs the
intent protocol (protocols/intents.py). Above proaudit_refund_approval_above the plan is only saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.refunds.eligibility import Eligibility, assess, find_payment, transaction_id
from proaudit_ops.errors import ExitCode, Refused, UsageError
from proaudit_ops.money import format_amount, parse_amount
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from proaudit_ops.protocols.guard import ApplyOptions, GuardResult
    from proaudit_ops.protocols.intents import Intent, IntentResult
    from proaudit_ops.protocols.plan import Plan
    from proaudit_ops.runtime import Runtime

ACTION = "refunds.issue"
MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class RefundRequest:
    payment: str
    reason: str
    amount_text: str | None = None
    amount_kobo: int | None = None
    downgrade: str | None = None
    cancel_at_period_end: bool = False
    another: bool = False


@dataclass(frozen=True)
class IssueResult:
    reference: str
    op_key: str
    amount: int
    currency: str
    outcome: str  # applied | planned | aborted | resumed | already
    needs_approval: bool
    guard: GuardResult | None = None
    resumed: IntentResult | None = None
    intent: Intent | None = None
    eligibility: Eligibility | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.REFUSED if self.outcome == "aborted" else ExitCode.OK

    @property
    def refund_id(self) -> str | None:
        return self.intent.external_id if self.intent is not None else None


def validate(request: RefundRequest) -> RefundRequest:
    from proaudit_ops.core.entitlement import normalize_tier

    reason = request.reason.strip()
    if not reason or len(reason) > MAX_REASON_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in reason):
        raise UsageError(f"--reason must be 1-{MAX_REASON_CHARS} printable characters on one line")
    if request.amount_text is not None and request.amount_kobo is not None:
        raise UsageError("give --amount or --amount-kobo, not both")
    if request.amount_kobo is not None and request.amount_kobo <= 0:
        raise UsageError("--amount-kobo must be positive")
    downgrade = None
    if request.downgrade is not None:
        try:
            downgrade = normalize_tier(request.downgrade)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return RefundRequest(
        request.payment,
        reason,
        request.amount_text,
        request.amount_kobo,
        downgrade,
        request.cancel_at_period_end,
        request.another,
    )


def requested_amount(request: RefundRequest, elig: Eligibility) -> int:
    """The amount asked for (exit 2 for a bad one), or everything still refundable."""
    if request.amount_text is not None:
        try:
            return parse_amount(request.amount_text, elig.currency).subunits
        except ValueError as exc:
            raise UsageError(f"--amount: {exc}") from None
    if request.amount_kobo is not None:
        return request.amount_kobo
    # Everything not refunded here: the same op key as an earlier run of this command cut off after
    # its POST (Paystack's total then already includes it), so the rerun resumes that intent.
    return max(0, int(elig.payment["amount_kobo"]) - elig.refunded_here)


def op_key_for(conn: Connection, payment: dict[str, Any], amount: int, another: bool) -> str:
    """`refund:<reference>:<amount>`: the reference is unique and readable in `resume OP`."""
    from proaudit_ops.protocols.intents import intents_for

    payment_id = str(payment["id"])
    base = f"refund:{payment['reference']}:{amount}"
    if not another:
        return base
    same = [i for i in intents_for(conn, payment_id, "refund") if i.op_key == base or i.op_key.startswith(base + ":")]
    return f"{base}:{len(same)}" if same else base


def issue_refund(
    runtime: Runtime,
    request: RefundRequest,
    options: ApplyOptions,
    confirm: Callable[[Plan], bool],
    *,
    now: datetime | None = None,
) -> IssueResult:
    from proaudit_ops.db.engine import read_only
    from proaudit_ops.protocols.intents import get_intent, resume

    request = validate(request)
    now = now or utcnow()
    engine = runtime.engine()
    guard = runtime.guard()
    with read_only(engine) as conn:
        payment = find_payment(conn, request.payment)
    tid = transaction_id(runtime, payment)
    refunds = runtime.paystack().list_refunds(transaction=tid)
    with read_only(engine) as conn:
        elig = assess(conn, payment, refunds, now)
        amount = requested_amount(request, elig)
        op_key = op_key_for(conn, payment, amount, request.another)
        existing = get_intent(conn, op_key)
    reference, currency = elig.reference, elig.currency
    threshold = runtime.settings.proaudit_refund_approval_above
    needs_approval = amount > threshold
    if existing is not None and existing.state == "done":
        message = (
            f"already refunded: intent {op_key} made Paystack refund {existing.external_id} "
            f"({format_amount(amount, currency)}); nothing was sent"
        )
        guard.record_refusal(ACTION, message, {"target": reference, "op_key": op_key})
        raise Refused(message, hint=f"look at it: proaudit refunds status {reference} (or pass --another)")
    if existing is not None and existing.state in ("started", "unknown"):
        if options.dry_run or options.plan_out is not None:
            raise UsageError(
                f"intent {op_key} is {existing.state}: an earlier run was cut off",
                hint=f"finish it: proaudit refunds resume {op_key}",
            )
        resumed = resume(guard, op_key)
        if resumed.outcome == "already":  # another run finished it meanwhile: this one did nothing
            message = f"already refunded: intent {op_key} was finished by another run; nothing was sent"
            guard.record_refusal(ACTION, message, {"target": reference, "op_key": op_key})
            raise Refused(message, hint=f"look at it: proaudit refunds status {reference}")
        return IssueResult(
            reference,
            op_key,
            amount,
            currency,
            "resumed",
            needs_approval,
            resumed=resumed,
            intent=resumed.intent,
            eligibility=elig,
            notes=[f"an earlier run of this refund was cut off ({existing.state}): resumed it"],
        )
    if not elig.eligible:
        message = f"{reference} is not eligible for a refund: " + "; ".join(elig.reasons)
        guard.record_refusal(ACTION, message, {"target": reference})
        raise Refused(message, hint=f"details: proaudit refunds check {reference}")
    if amount <= 0:
        raise Refused(f"nothing left to refund on {reference}")
    if amount > elig.refundable:
        raise UsageError(
            f"{format_amount(amount, currency)} is more than the refundable {format_amount(elig.refundable, currency)}"
        )
    if needs_approval and options.plan_out is None and not options.dry_run:
        raise UsageError(
            f"{format_amount(amount, currency)} is above proaudit_refund_approval_above "
            f"({format_amount(threshold, currency)}): a second operator must approve it",
            hint="save the plan with --plan-out FILE; another operator runs `proaudit approve FILE`, "
            "then `proaudit apply FILE`",
        )
    params: dict[str, Any] = {
        "target": str(payment["id"]),
        "reference": reference,
        "transaction_id": tid,
        "amount": amount,
        "currency": currency,
        "reason": request.reason,
        "downgrade": request.downgrade,
        "cancel": request.cancel_at_period_end,
        "baseline": sorted(str(r.id) for r in refunds),
    }

    def build(conn: Connection) -> Plan:
        return build_plan(guard, conn, payment, params, op_key, needs_approval, now)

    result = guard.execute(build, options, confirm, action=ACTION)
    with read_only(engine) as conn:
        intent = get_intent(conn, op_key)
    return IssueResult(
        reference,
        op_key,
        amount,
        currency,
        result.outcome,
        needs_approval,
        guard=result,
        intent=intent,
        eligibility=elig,
        notes=elig.notes,
    )


def build_plan(
    guard: Any,
    conn: Connection,
    seen: dict[str, Any],
    params: dict[str, Any],
    op_key: str,
    needs_approval: bool,
    now: datetime,
) -> Plan:
    from proaudit_ops.core.refunds.kind import PLACEHOLDER, payment_change, subscription_change
    from proaudit_ops.db.schema import payment_transactions as pt
    from proaudit_ops.protocols.plan import ExternalStep, Plan

    row = guard.lock_rows(conn, pt, pt.c.id == str(seen["id"]), expect=1)[0]
    if any(row.get(k) != seen.get(k) for k in ("status", "refund_amount_kobo", "refund_reference")):
        raise Refused(f"payment {seen['reference']} changed while it was being checked", hint="run it again")
    changes = [payment_change(row, int(params["amount"]), PLACEHOLDER)]
    sku = subscription_change(guard, conn, row, params)
    if sku is not None:
        changes.append(sku)
    body = {
        "transaction": str(params["transaction_id"]),
        "amount": int(params["amount"]),
        "currency": params["currency"],
        "merchant_note": params["reason"],
    }
    step = ExternalStep(
        kind="refund",
        op_key=op_key,
        call={"method": "POST", "path": "/refund", "body": body},
        params=params,
        fills=("payment_transactions.refund_reference",),
        needs_approval=needs_approval,
    )
    return Plan(
        action=ACTION,
        reason=str(params["reason"]),
        changes=tuple(changes),
        created_at=now,
        target=str(params["reference"]),
        external=step,
    )


@dataclass(frozen=True)
class ResumeResult:
    results: list[IntentResult]

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK


def resume_refunds(runtime: Runtime, op_key: str | None) -> ResumeResult:
    """One intent, or every refund intent left started or unknown (oldest first)."""
    from proaudit_ops.db.engine import read_only
    from proaudit_ops.protocols.intents import OPEN_STATES, list_intents, resume

    guard = runtime.guard()
    if op_key is not None:
        return ResumeResult([resume(guard, op_key.strip())])
    with read_only(runtime.engine()) as conn:
        open_ = list_intents(conn, kind="refund", states=OPEN_STATES)
    return ResumeResult([resume(guard, i.op_key) for i in reversed(open_)])
