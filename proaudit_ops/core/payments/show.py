"""`payments show REF`: the row, its organization and subscription, and its audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.references import validate_reference
from proaudit_ops.errors import NotFoundError

if TYPE_CHECKING:
    from proaudit_ops.audit import AuditRecord
    from proaudit_ops.runtime import Runtime


@dataclass(frozen=True)
class PaymentDetails:
    payment: dict[str, Any]
    organization: dict[str, Any] | None
    subscription: dict[str, Any] | None
    audit: list[AuditRecord]


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
    return PaymentDetails(
        payment=dict(payment),
        organization=dict(org) if org else None,
        subscription=dict(sub) if sub else None,
        audit=list(trail),
    )
