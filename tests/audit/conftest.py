"""Fixtures for the audit-log tests: both databases, a context, a log with a private fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from proaudit_ops.audit import AuditContext, AuditLog


@pytest.fixture(params=["pg", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "pg_engine" if request.param == "pg" else "sqlite_engine"
    value = request.getfixturevalue(name)
    assert isinstance(value, Engine)
    return value


@pytest.fixture
def context() -> AuditContext:
    return AuditContext(
        operator="bola",
        os_user="bola-os",
        host="ops-host-2",
        command="proaudit refunds issue PAY-1 --amount 1500 --yes",
        incident="INC-7",
    )


@pytest.fixture
def fallback_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "audit-fallback.jsonl"


@pytest.fixture
def log(context: AuditContext, fallback_path: Path) -> AuditLog:
    return AuditLog(context, fallback_path)
