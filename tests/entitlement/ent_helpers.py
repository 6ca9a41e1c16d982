"""Shared by the entitlement tests (a module of its own: `conftest` is not importable by name)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from proaudit_ops.core.entitlement import subscription_row
from proaudit_ops.db.engine import read_only
from proaudit_ops.db.schema import payment_transactions
from proaudit_ops.protocols.guard import ApplyOptions
from proaudit_ops.protocols.plan import Plan

YES = ApplyOptions(assume_yes=True)


def never(_plan: Plan) -> bool:
    raise AssertionError("no prompt expected")


def payment(engine: Engine, reference: str) -> dict[str, Any]:
    with read_only(engine) as conn:
        row = conn.execute(select(payment_transactions).where(payment_transactions.c.reference == reference))
        return dict(row.mappings().one())


def sku_of(engine: Engine, reference: str) -> dict[str, Any]:
    with read_only(engine) as conn:
        row = subscription_row(conn, str(payment(engine, reference)["organization_id"]))
    assert row is not None
    return row
