"""`webhooks replay REF`: rebuild the missed charge.success from Paystack's data and deliver it.

The result says what the app answered (applied, already applied, rejected: delivery.py) and,
after a delivered replay, whether the customer is now entitled to what the payment bought
(the subscription read back from the database, with the metadata of Paystack's answer already
fetched). An app that answers "already applied" changes nothing: a payment fixed by an older
proaudit, or by hand, stays not entitled until `payments verify REF --fix` (exit 1 says so).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.payments.entitled import ENTITLED, EntitlementCheck
from proaudit_ops.core.references import validate_reference
from proaudit_ops.core.webhooks.body import canonical_bytes
from proaudit_ops.core.webhooks.delivery import (
    AUDIT_OUTCOME,
    REJECTED,
    STILL_FAILING,
    UNKNOWN,
    Delivery,
    deliver,
    interrupted,
    verdict,
)
from proaudit_ops.core.webhooks.events import charge_success_event
from proaudit_ops.errors import (
    EndpointUnavailable,
    ExitCode,
    Interrupted,
    OutcomeUnknown,
    PaystackNotFound,
    ProauditError,
    Refused,
)
from proaudit_ops.paystack.signatures import compute_signature
from proaudit_ops.protocols.approval import Confirm, Proposal, audit_standalone, gate

if TYPE_CHECKING:
    import httpx

    from proaudit_ops.paystack import Transaction
    from proaudit_ops.protocols.guard import ApplyOptions
    from proaudit_ops.runtime import Runtime

REPLAY_ACTION = "webhooks.replay"


@dataclass(frozen=True)
class ReplayResult:
    reference: str
    url: str
    event: dict[str, Any]
    signature: str
    outcome: str  # delivered | rejected | planned | aborted
    delivery: Delivery | None
    audit_seq: int | None
    answer: str | None = None  # what the app said it did: applied | already_applied | rejected | None
    entitlement: EntitlementCheck | None = None  # after a delivered replay: is the customer covered?

    @property
    def exit_code(self) -> ExitCode:
        if self.outcome == "aborted":
            return ExitCode.REFUSED
        if self.outcome == "rejected":  # the app is up and will not apply it: a human must look
            return ExitCode.FINDING
        if self.still_pending:
            return ExitCode.FINDING  # accepted, and yet not applied
        if self.entitlement is not None and self.entitlement.status not in (ENTITLED, "not_applicable"):
            return ExitCode.FINDING  # delivered, and the customer is still not entitled
        return ExitCode.OK

    @property
    def still_pending(self) -> bool:
        """Delivered, yet the payment row is still pending: the app did not apply it, whatever it answered."""
        return (
            self.outcome == "delivered"
            and self.entitlement is not None
            and (self.entitlement.payment_status == "pending")
        )


def deliver_transaction(
    runtime: Runtime, client: httpx.Client, url: str, tx: Transaction
) -> tuple[Delivery, str, int | None]:
    """Sign and POST the event for one Paystack transaction, and audit the attempt with its verdict.

    (delivery, verdict, audit seq). A Ctrl-C while the request is in flight is recorded as an
    `unknown` attempt (the app may have applied it) before it propagates.
    """
    body = canonical_bytes(charge_success_event(tx))
    started = time.perf_counter()
    try:
        delivery = deliver(client, url, body, compute_signature(body, runtime.secret_key()))
    except KeyboardInterrupt:
        cut = interrupted(url, started)
        _record(runtime, tx.reference, cut, UNKNOWN, None)
        raise
    status = _inbox_status(runtime, tx.reference)
    judged = verdict(delivery, status)
    return delivery, judged, _record(runtime, tx.reference, delivery, judged, status)


def _record(runtime: Runtime, reference: str, delivery: Delivery, judged: str, inbox: str | None) -> int | None:
    return audit_standalone(
        runtime,
        REPLAY_ACTION,
        reference,
        AUDIT_OUTCOME[judged],
        {
            "url": delivery.url,
            "verdict": judged,
            "status_code": delivery.status_code,
            "latency_ms": delivery.latency_ms,
            "error": delivery.error,
            "inbox_status": inbox,
            "answer": delivery.answer,
            "detail": delivery.detail,
        },
    )


def _inbox_status(runtime: Runtime, reference: str) -> str | None:
    """The app's inbox row for this charge.success after the attempt (None: none, or unreadable)."""
    from sqlalchemy import select

    from proaudit_ops.db.engine import read_only
    from proaudit_ops.db.schema import webhook_events as we

    query = select(we.c.status).where(we.c.event_type == "charge.success", we.c.reference == reference).limit(1)
    try:
        with read_only(runtime.engine()) as conn:
            value = conn.execute(query).scalar()
    except ProauditError:
        return None
    return None if value is None else str(value)


def paystack_success(runtime: Runtime, reference: str) -> Transaction:
    """Paystack's record, refusing anything that is not a success (nothing to replay)."""
    try:
        tx = runtime.paystack().verify_transaction(reference)
    except PaystackNotFound:
        audit_standalone(runtime, REPLAY_ACTION, reference, "refused", {"reason": "unknown to Paystack"})
        raise Refused(f"Paystack does not know {reference}: nothing to replay") from None
    if tx.status != "success":
        audit_standalone(runtime, REPLAY_ACTION, reference, "refused", {"reason": f"paystack status {tx.status}"})
        raise Refused(
            f"Paystack says {reference} is {tx.status}, not success: a charge.success replay would be false",
            hint=f"diagnose it with: proaudit payments verify {reference}",
        )
    return tx


def replay(
    runtime: Runtime,
    reference: str,
    options: ApplyOptions,
    confirm: Confirm,
    url: str | None = None,
) -> ReplayResult:
    validate_reference(reference)
    tx = paystack_success(runtime, reference)
    event = charge_success_event(tx)
    body = canonical_bytes(event)
    signature = compute_signature(body, runtime.secret_key())
    client, target = runtime.app_endpoint(url)
    proposal = Proposal(
        action=REPLAY_ACTION,
        target=reference,
        summary=f"POST charge.success for {reference} to {target}",
        count=1,
        details=[{"reference": reference, "url": target, "bytes": len(body)}],
    )
    decision = gate(runtime, options, proposal, confirm)
    if decision != "go":
        return ReplayResult(reference, target, event, signature, decision, None, None)
    try:
        delivery, judged, seq = deliver_transaction(runtime, client, target, tx)
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted while the replay of {reference} was in flight: the app may have applied it "
            "(recorded as unknown in the audit log)",
            hint=f"check with: proaudit payments verify {reference}; rerun replay if needed (the app deduplicates)",
        ) from None
    if judged == UNKNOWN:
        raise OutcomeUnknown(
            f"the app did not answer the replay of {reference} ({delivery.describe()}) and its inbox does not "
            "show it processed: it may or may not be applied (recorded as unknown)",
            hint=f"check with: proaudit payments verify {reference}; rerun replay if needed (the app deduplicates)",
        )
    if judged == STILL_FAILING and delivery.answer == REJECTED:
        return ReplayResult(reference, target, event, signature, "rejected", delivery, seq, REJECTED)
    if judged == STILL_FAILING:
        why = delivery.describe() if not delivery.ok else f"{delivery.describe()}, but its inbox says failed"
        raise EndpointUnavailable(
            f"the app endpoint did not accept the replay of {reference}: {why}",
            hint="check the app (proaudit webhooks test); the attempt is in the audit log; "
            "rerun replay when it is healthy",
        )
    from proaudit_ops.core.payments.entitled import check_now
    from proaudit_ops.timeutil import utcnow

    try:
        entitled = check_now(runtime.engine(), reference, tx.metadata, utcnow())
    except ProauditError as exc:  # delivered all the same: say what could not be confirmed
        from proaudit_ops.core.payments.entitled import not_checked

        entitled = not_checked(f"could not read the subscription back: {exc.message}")
    return ReplayResult(reference, target, event, signature, "delivered", delivery, seq, delivery.answer, entitled)
