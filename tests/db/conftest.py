"""Fixtures for the change-guard tests: both databases, seeded payments, a guard, plan builders."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, insert, select

from proaudit_ops.audit import AuditContext, AuditLog, AuditRecord, query
from proaudit_ops.db.engine import read_only
from proaudit_ops.db.schema import organizations, payment_transactions
from proaudit_ops.protocols.guard import ChangeGuard
from proaudit_ops.protocols.plan import Plan, RowChange
from proaudit_ops.protocols.plan_auth import home_plan_key
from proaudit_ops.timeutil import utcnow

FIX_TIME = utcnow().replace(microsecond=123456)


@pytest.fixture
def audit_context() -> AuditContext:
    return AuditContext(
        operator="alice",
        os_user="alice-os",
        host="ops-host-1",
        command="proaudit payments stuck --fix --yes",
        incident="INC-42",
    )


@pytest.fixture
def audit_log(audit_context: AuditContext, fallback_path: Path) -> AuditLog:
    return AuditLog(audit_context, fallback_path)


@pytest.fixture
def plan_key(isolated_env: Path) -> Callable[[], bytes]:
    """The key the CLI uses too (PROAUDIT_HOME's plan.key, made on first use)."""
    return lambda: home_plan_key(isolated_env)


@pytest.fixture
def guard(engine: Engine, audit_log: AuditLog, plan_key: Callable[[], bytes]) -> ChangeGuard:
    return ChangeGuard(engine, audit_log, lock_timeout_ms=500, statement_timeout_ms=5000, plan_key=plan_key)


def seed_payments(engine: Engine, count: int, *, status: str = "pending") -> list[str]:
    """One organization and `count` payments; returns their references."""
    now = utcnow()
    org = str(uuid.uuid4())
    refs = [f"ref-{uuid.uuid4().hex[:10]}" for _ in range(count)]
    with engine.begin() as conn:
        conn.execute(
            insert(organizations).values(
                id=org, name="Acme Ltd", email="billing@acme.test", created_at=now, updated_at=now
            )
        )
        for i, ref in enumerate(refs):
            conn.execute(
                insert(payment_transactions).values(
                    id=str(uuid.uuid4()),
                    organization_id=org,
                    reference=ref,
                    status=status,
                    amount_kobo=15_000_000 + i,
                    currency="NGN",
                    created_at=now,
                    updated_at=now,
                )
            )
    return refs


@pytest.fixture
def seed() -> Callable[..., list[str]]:
    return seed_payments


def stuck_builder(guard: ChangeGuard, refs: list[str], *, action: str = "payments.fix") -> Callable[[Connection], Plan]:
    """The `payments stuck --fix` shape: pending -> success for the given references."""
    pt = payment_transactions

    def build(conn: Connection) -> Plan:
        rows = guard.lock_rows(conn, pt, pt.c.reference.in_(refs) & (pt.c.status == "pending"))
        changes = [
            RowChange(
                table=pt.name,
                key={"id": row["id"]},
                guards={"status": "pending"},
                new_values={"status": "success", "paid_at": FIX_TIME, "updated_at": FIX_TIME},
                before=row,
                label=row["reference"],
            )
            for row in rows
        ]
        target = refs[0] if len(refs) == 1 else "bulk"
        return Plan(
            action=action,
            reason="Paystack says success; the database says pending",
            changes=tuple(changes),
            created_at=utcnow(),
            target=target,
        )

    return build


@pytest.fixture
def builder() -> Callable[..., Callable[[Connection], Plan]]:
    return stuck_builder


def payment_rows(engine: Engine, refs: list[str]) -> dict[str, dict[str, Any]]:
    pt = payment_transactions
    with read_only(engine) as conn:
        rows = conn.execute(select(pt).where(pt.c.reference.in_(refs))).mappings().all()
    return {row["reference"]: dict(row) for row in rows}


@pytest.fixture
def payments() -> Callable[[Engine, list[str]], dict[str, dict[str, Any]]]:
    return payment_rows


def audit_records(engine: Engine) -> list[AuditRecord]:
    with read_only(engine) as conn:
        return query(conn, limit=1000)


@pytest.fixture
def records() -> Callable[[Engine], list[AuditRecord]]:
    return audit_records
