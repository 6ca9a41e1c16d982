"""Compare the database with Paystack and say, in plain words, what is wrong. Pure logic."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from proaudit_ops.core.payments.views import TxView

IN_PROGRESS_AT_PAYSTACK = frozenset({"pending", "ongoing", "processing", "queued"})
NOT_PAID_AT_PAYSTACK = frozenset({"abandoned", "failed"})


class Diagnosis(StrEnum):
    CONSISTENT = "consistent"
    IN_PROGRESS = "in_progress"  # pending on both sides: the customer is still paying
    STUCK = "stuck"  # Paystack success, database pending
    NOT_PAID = "not_paid"  # abandoned/failed at Paystack, pending here
    AMOUNT_MISMATCH = "amount_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    STATUS_MISMATCH = "status_mismatch"  # any other disagreement: for a human
    UNKNOWN_TO_PAYSTACK = "unknown_to_paystack"
    UNKNOWN_TO_DATABASE = "unknown_to_database"
    UNKNOWN = "unknown"  # neither side knows it
    # Success on both sides, but tenant_skus does not cover what it bought (core/payments/entitled.py).
    PAID_NOT_ENTITLED = "paid_not_entitled"
    ENTITLEMENT_UNKNOWN = "entitlement_unknown"  # success on both sides, its metadata unusable: for a human


FIXABLE = frozenset({Diagnosis.STUCK, Diagnosis.NOT_PAID, Diagnosis.PAID_NOT_ENTITLED})
HEALTHY = frozenset({Diagnosis.CONSISTENT, Diagnosis.IN_PROGRESS})


@dataclass(frozen=True)
class Finding:
    diagnosis: Diagnosis
    explanation: str
    next_step: str | None

    @property
    def fixable(self) -> bool:
        return self.diagnosis in FIXABLE

    @property
    def healthy(self) -> bool:
        return self.diagnosis in HEALTHY


def _consistent_status(db: str, ps: str) -> bool:
    if db == ps:
        return True
    if db == "pending" and ps in IN_PROGRESS_AT_PAYSTACK:
        return True
    # A refund: the app says refunded; Paystack shows reversed (full) or success (partial/failed refund).
    return db in ("refunded", "reversed") and ps in ("reversed", "success")


def diagnose(reference: str, db: TxView, ps: TxView) -> Finding:
    if not db.found and not ps.found:
        return Finding(
            Diagnosis.UNKNOWN,
            f"{reference} is neither in the database nor at Paystack.",
            "check the reference (copy it from the customer's receipt or the Paystack dashboard)",
        )
    if not db.found:
        return Finding(
            Diagnosis.UNKNOWN_TO_DATABASE,
            f"Paystack has {reference} ({ps.status}) but the database has no such payment.",
            "the app never recorded the checkout: find the customer by the Paystack customer email and escalate",
        )
    if not ps.found:
        return Finding(
            Diagnosis.UNKNOWN_TO_PAYSTACK,
            f"The database has {reference} ({db.status}) but Paystack does not know it.",
            "the checkout never reached Paystack (or another key/mode was used): check sk_test_ vs sk_live_",
        )
    assert db.status is not None and ps.status is not None
    assert db.amount is not None and ps.amount is not None
    if db.currency != ps.currency:
        return Finding(
            Diagnosis.CURRENCY_MISMATCH,
            f"Currency differs: the database says {db.currency}, Paystack says {ps.currency}.",
            "never auto-fixed: have a human compare the order with the Paystack dashboard",
        )
    requested = ps.requested_amount.subunits if ps.requested_amount else None
    if db.amount.subunits != ps.amount.subunits and db.amount.subunits != requested:
        return Finding(
            Diagnosis.AMOUNT_MISMATCH,
            f"Amount differs: the database expects {db.amount.format()}, Paystack has {ps.amount.format()}.",
            "never auto-fixed: do not deliver value until a human has checked the order",
        )
    if db.status == "pending" and ps.status == "success":
        return Finding(
            Diagnosis.STUCK,
            "Paystack says success but the database still says pending (the webhook was missed).",
            f"proaudit payments verify {reference} --fix",
        )
    if db.status == "pending" and ps.status in NOT_PAID_AT_PAYSTACK:
        return Finding(
            Diagnosis.NOT_PAID,
            f"Paystack says {ps.status} but the database still says pending: the customer never paid.",
            f"proaudit payments verify {reference} --fix (marks it {ps.status})",
        )
    if _consistent_status(db.status, ps.status):
        if db.status == "pending":
            return Finding(
                Diagnosis.IN_PROGRESS,
                f"Pending here, {ps.status} at Paystack; the customer has not finished paying.",
                None,
            )
        return Finding(Diagnosis.CONSISTENT, f"{db.status.capitalize()} on both sides.", None)
    return Finding(
        Diagnosis.STATUS_MISMATCH,
        f"Status differs: the database says {db.status}, Paystack says {ps.status}.",
        "not auto-fixed: value may already have been delivered or refunded; have a human decide",
    )
