"""Fixtures: the seeded billing tables on both databases, a change guard, and Paystack's metadata."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from proaudit_ops.audit import AuditContext, AuditLog
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

    context = AuditContext(operator="sam", os_user="sam-os", host="ops-1", command="proaudit subscriptions")
    log = AuditLog(context, tmp_path / "audit.jsonl")
    return ChangeGuard(
        seeded,
        log,
        lock_timeout_ms=500,
        statement_timeout_ms=5000,
        plan_key=lambda: home_plan_key(tmp_path / "home"),
    )


@pytest.fixture
def metadata_for(now: datetime) -> Callable[[str], object]:
    """What the simulator would return as each seeded transaction's metadata."""
    by_ref = {row["reference"]: loads(row["metadata"]) for row in build_dataset(now).sim_transactions}
    return lambda reference: by_ref.get(reference)
