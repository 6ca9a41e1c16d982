"""`payments verify REF`: the runbook's Payment Failures diagnostic steps in one call. Read-only.

Three parts must agree (DESIGN.md, "Entitlement"): Paystack, `payment_transactions`, and the
organization's `tenant_skus` row covering what a successful payment bought. The third is
checked with the metadata of the verify answer already fetched (no second call).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.payments.diagnosis import HEALTHY, Diagnosis, Finding, diagnose
from proaudit_ops.core.payments.entitled import NOT_ENTITLED, UNKNOWN, EntitlementCheck, check, not_checked
from proaudit_ops.core.payments.views import (
    TxView,
    database_view,
    fetch_at_paystack,
    paystack_view,
    read_payment_row,
)
from proaudit_ops.core.references import validate_reference
from proaudit_ops.errors import ExitCode, NotFoundError
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from proaudit_ops.runtime import Runtime


@dataclass(frozen=True)
class VerifyResult:
    reference: str
    database: TxView
    paystack: TxView
    diagnosis: Diagnosis
    explanation: str
    next_step: str | None
    fixable: bool
    entitlement: EntitlementCheck | None = None  # does the subscription cover what it bought?

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.diagnosis in HEALTHY else ExitCode.FINDING


def verify_payment(runtime: Runtime, reference: str) -> VerifyResult:
    """Both sides and the diagnosis; `--fix` builds on this result."""
    from proaudit_ops.core.entitlement import subscription_row
    from proaudit_ops.db.engine import read_only

    validate_reference(reference)
    with read_only(runtime.engine()) as conn:  # the payment and its subscription in one snapshot
        row = read_payment_row(conn, reference)
        variant = case_variant(conn, reference) if row is None else None
        sku = subscription_row(conn, str(row["organization_id"])) if row is not None else None
    db = database_view(row)
    ps = paystack_view(fetch_at_paystack(runtime.paystack(), reference))
    if variant is not None and not ps.found:
        raise not_found_with_variant(reference, variant)
    finding = diagnose(reference, db, ps)
    entitlement = entitlement_of(finding, row, sku, ps)
    finding = with_entitlement(reference, finding, entitlement)
    fixable = finding.fixable and (finding.diagnosis != Diagnosis.PAID_NOT_ENTITLED or entitlement.fixable)
    return VerifyResult(
        reference=reference,
        database=db,
        paystack=ps,
        diagnosis=finding.diagnosis,
        explanation=finding.explanation,
        next_step=finding.next_step,
        fixable=fixable,
        entitlement=entitlement,
    )


def entitlement_of(
    finding: Finding, row: dict[str, Any] | None, sku: dict[str, Any] | None, ps: TxView
) -> EntitlementCheck:
    """The subscription against what the payment bought: as it is (consistent), or as the fix leaves it (stuck)."""
    if row is None:
        return not_checked("not in the database")
    if finding.diagnosis == Diagnosis.CONSISTENT:
        return check(row, sku, ps._metadata, utcnow())
    if finding.diagnosis == Diagnosis.STUCK:
        return check({**row, "status": "success", "paid_at": ps.paid_at}, sku, ps._metadata, utcnow())
    if finding.diagnosis in (Diagnosis.IN_PROGRESS, Diagnosis.NOT_PAID):
        return check(row, sku, ps._metadata, utcnow())  # not paid: it buys nothing
    return not_checked(f"not checked while the payment itself is in question ({finding.diagnosis.value})")


def with_entitlement(reference: str, finding: Finding, ent: EntitlementCheck) -> Finding:
    """The diagnosis with the subscription's part: a consistent payment can still be paid and not entitled."""
    fix = f"proaudit payments verify {reference} --fix"
    if finding.diagnosis == Diagnosis.CONSISTENT and ent.status == NOT_ENTITLED:
        if not ent.fixable:
            return Finding(
                Diagnosis.PAID_NOT_ENTITLED,
                "Success on both sides, but the organization has no subscription row to entitle.",
                "the app never created the organization's subscription row: escalate to the billing app's owners",
            )
        return Finding(
            Diagnosis.PAID_NOT_ENTITLED,
            "Success on both sides, but the subscription does not cover what the payment bought.",
            f"{fix} (brings the subscription up to what the payment bought)",
        )
    if finding.diagnosis == Diagnosis.CONSISTENT and ent.status == UNKNOWN:
        return Finding(
            Diagnosis.ENTITLEMENT_UNKNOWN,
            f"Success on both sides, but {ent.explanation}.",
            f"not auto-fixed: compare the metadata with the order, then proaudit subscriptions show {reference}",
        )
    if finding.diagnosis == Diagnosis.STUCK and ent.status == NOT_ENTITLED:
        also = "the fix entitles it too" if ent.fixable else "the organization has no subscription row to entitle"
        return Finding(
            finding.diagnosis,
            f"{finding.explanation} The subscription does not cover it either: {also}.",
            finding.next_step,
        )
    if finding.diagnosis == Diagnosis.STUCK and ent.status == UNKNOWN:
        return Finding(
            finding.diagnosis,
            f"{finding.explanation} But {ent.explanation}: the fix marks the payment only, "
            "the subscription is for a human.",
            finding.next_step,
        )
    return finding


def case_variant(conn: Connection, reference: str) -> str | None:
    """The reference the database has in another case (PSK-STUCK-0001 for psk-stuck-0001), if any.

    Read-only, and only the all-upper and all-lower spellings: an equality lookup on the indexed
    column, where `lower(reference) = ...` would scan the whole table on a production database.
    """
    from sqlalchemy import select

    from proaudit_ops.db.schema import payment_transactions as pt

    candidates = {reference.upper(), reference.lower()} - {reference}
    if not candidates:
        return None
    found = conn.execute(select(pt.c.reference).where(pt.c.reference.in_(sorted(candidates))).limit(1)).scalar()
    return str(found) if found is not None else None


def not_found_with_variant(reference: str, variant: str, command: str = "verify") -> NotFoundError:
    return NotFoundError(
        f"no payment {reference}; did you mean {variant}? references are case-sensitive",
        hint=f"proaudit payments {command} {variant}",
    )
