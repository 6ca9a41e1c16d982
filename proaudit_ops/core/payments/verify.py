"""`payments verify REF`: the runbook's Payment Failures diagnostic steps in one call. Read-only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from proaudit_ops.core.payments.diagnosis import HEALTHY, Diagnosis, diagnose
from proaudit_ops.core.payments.views import (
    TxView,
    database_view,
    fetch_at_paystack,
    paystack_view,
    read_payment_row,
)
from proaudit_ops.core.references import validate_reference
from proaudit_ops.errors import ExitCode, NotFoundError

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

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.diagnosis in HEALTHY else ExitCode.FINDING


def verify_payment(runtime: Runtime, reference: str) -> VerifyResult:
    """Both sides and the diagnosis; `--fix` builds on this result."""
    from proaudit_ops.db.engine import read_only

    validate_reference(reference)
    with read_only(runtime.engine()) as conn:
        row = read_payment_row(conn, reference)
        variant = case_variant(conn, reference) if row is None else None
    db = database_view(row)
    ps = paystack_view(fetch_at_paystack(runtime.paystack(), reference))
    if variant is not None and not ps.found:
        raise not_found_with_variant(reference, variant)
    finding = diagnose(reference, db, ps)
    return VerifyResult(
        reference=reference,
        database=db,
        paystack=ps,
        diagnosis=finding.diagnosis,
        explanation=finding.explanation,
        next_step=finding.next_step,
        fixable=finding.fixable,
    )


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
