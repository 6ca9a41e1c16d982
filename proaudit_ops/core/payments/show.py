"""`payments show REF`: the row, its organization and subscription, its coverage, and its audit trail.

`coverage` says whether the subscription covers what the payment bought (core/payments/entitled.py),
from the transaction's metadata at Paystack (one verify call). When Paystack cannot be asked, the
subscription row's tier and cycle stand in (the entitlement contract's fallback) and
`coverage_note` says so: `show` stays usable during a Paystack outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.payments.entitled import EntitlementCheck, check
from proaudit_ops.core.references import validate_reference
from proaudit_ops.errors import NotFoundError
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from proaudit_ops.audit import AuditRecord
    from proaudit_ops.runtime import Runtime


@dataclass(frozen=True)
class PaymentDetails:
    payment: dict[str, Any]
    organization: dict[str, Any] | None
    subscription: dict[str, Any] | None
    audit: list[AuditRecord]
    coverage: EntitlementCheck | None = None
    coverage_note: str | None = None  # why the metadata was not used, when it was not


def show_payment(runtime: Runtime, reference: str) -> PaymentDetails:
    from sqlalchemy import select

    from proaudit_ops.audit import query as audit_query
    from proaudit_ops.db.engine import read_only
    from proaudit_ops.db.schema import organizations, payment_transactions, tenant_skus

    validate_reference(reference)
    with read_only(runtime.engine()) as conn:
        payment = (
            conn.execute(select(payment_transactions).where(payment_transactions.c.reference == reference))
            .mappings()
            .first()
        )
        if payment is None:
            from proaudit_ops.core.payments.verify import case_variant, not_found_with_variant

            variant = case_variant(conn, reference)
            if variant is not None:
                raise not_found_with_variant(reference, variant, "show")
            raise NotFoundError(
                f"no payment {reference} in the database",
                hint=f"check the reference, or run: proaudit payments verify {reference}",
            )
        org_id = payment["organization_id"]
        org = conn.execute(select(organizations).where(organizations.c.id == org_id)).mappings().first()
        sub = conn.execute(select(tenant_skus).where(tenant_skus.c.organization_id == org_id)).mappings().first()
        trail = audit_query(conn, since=None, incident=None, actor=None, target=reference, limit=50)
    metadata, note = _metadata(runtime, reference, str(payment["status"]))
    return PaymentDetails(
        payment=dict(payment),
        organization=dict(org) if org else None,
        subscription=dict(sub) if sub else None,
        audit=list(trail),
        coverage=check(dict(payment), dict(sub) if sub else None, metadata, utcnow()),
        coverage_note=note,
    )


def _metadata(runtime: Runtime, reference: str, status: str) -> tuple[object, str | None]:
    """Paystack's metadata for the payment, or None and why (only a paid success needs it)."""
    from proaudit_ops.core.payments.views import fetch_at_paystack
    from proaudit_ops.errors import ProauditError

    if status != "success":
        return None, None
    try:
        tx = fetch_at_paystack(runtime.paystack(), reference)
    except ProauditError as exc:  # unreachable, misconfigured, other mode: show what the database says
        return None, f"no metadata from Paystack ({exc.message}): tier and cycle taken from the subscription row"
    if tx is None:
        return None, "Paystack does not know this payment: tier and cycle taken from the subscription row"
    return tx.metadata, None
