"""`webhooks replay REF`: rebuild the missed charge.success from Paystack's data and deliver it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.references import validate_reference
from proaudit_ops.core.webhooks.body import canonical_bytes
from proaudit_ops.core.webhooks.delivery import Delivery, deliver
from proaudit_ops.core.webhooks.events import charge_success_event
from proaudit_ops.errors import EndpointUnavailable, ExitCode, PaystackNotFound, Refused
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
    outcome: str  # delivered | planned | aborted
    delivery: Delivery | None
    audit_seq: int | None

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.REFUSED if self.outcome == "aborted" else ExitCode.OK


def deliver_transaction(
    runtime: Runtime, client: httpx.Client, url: str, tx: Transaction
) -> tuple[Delivery, int | None]:
    """Sign and POST the event for one Paystack transaction, and audit the attempt."""
    body = canonical_bytes(charge_success_event(tx))
    delivery = deliver(client, url, body, compute_signature(body, runtime.secret_key()))
    seq = audit_standalone(
        runtime,
        REPLAY_ACTION,
        tx.reference,
        "applied" if delivery.ok else "failed",
        {
            "url": url,
            "status_code": delivery.status_code,
            "latency_ms": delivery.latency_ms,
            "error": delivery.error,
        },
    )
    return delivery, seq


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
    delivery, seq = deliver_transaction(runtime, client, target, tx)
    if not delivery.ok:
        raise EndpointUnavailable(
            f"the app endpoint did not accept the replay of {reference}: {delivery.describe()}",
            hint="check the app (proaudit webhooks test); the attempt is in the audit log; "
            "rerun replay when it is healthy",
        )
    return ReplayResult(reference, target, event, signature, "delivered", delivery, seq)
