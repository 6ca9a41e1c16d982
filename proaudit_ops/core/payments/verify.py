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
from proaudit_ops.errors import ExitCode

if TYPE_CHECKING:
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
    db = database_view(row)
    ps = paystack_view(fetch_at_paystack(runtime.paystack(), reference))
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
