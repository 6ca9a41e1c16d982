"""Fixtures: the seeded billing tables on both databases, a change guard, Paystack's view of a payment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from proaudit_ops.audit import AuditContext, AuditLog
from proaudit_ops.core.payments.views import TxView
from proaudit_ops.money import Money
from proaudit_ops.protocols.guard import ChangeGuard
from proaudit_ops.sandbox.seed import build_dataset, seed_billing
from proaudit_ops.sandbox.state import loads
from proaudit_ops.timeutil import utcnow


@pytest.fixture
def now() -> datetime:
    return utcnow().replace(microsecond=0)


@pytest.fixture
def seeded(engine: Engine, now: datetime) -> Engine:
    """`engine` (PostgreSQL and SQLite) with the sandbox's billing rows."""
    seed_billing(engine, now=now)
    return engine


@pytest.fixture
def guard(seeded: Engine, tmp_path: Path) -> ChangeGuard:
    from proaudit_ops.protocols.plan_auth import home_plan_key

    context = AuditContext(operator="sam", os_user="sam-os", host="ops-1", command="proaudit payments verify")
    return ChangeGuard(
        seeded,
        AuditLog(context, tmp_path / "audit.jsonl"),
        lock_timeout_ms=500,
        statement_timeout_ms=5000,
        plan_key=lambda: home_plan_key(tmp_path / "home"),
    )


@pytest.fixture
def paystack_view_of(now: datetime) -> Callable[..., TxView]:
    """What `payments verify` reads from Paystack for a seeded reference (metadata overridable)."""
    rows = {row["reference"]: row for row in build_dataset(now).sim_transactions}
    unset = object()

    def view(reference: str, metadata: object = unset) -> TxView:
        row = rows[reference]
        return TxView(
            source="paystack",
            found=True,
            status=row["status"],
            amount=Money(int(row["amount"]), row["currency"]),
            currency=row["currency"],
            paid_at=row["paid_at"],
            gateway_response=row["gateway_response"],
            channel=row["channel"],
            paystack_id=int(row["id"]),
            _metadata=loads(row["metadata"]) if metadata is unset else metadata,
        )

    return view
