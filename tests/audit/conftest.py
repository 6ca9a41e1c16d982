"""Fixtures for the audit-log tests: both databases, a context, a log with a private fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from proaudit_ops.audit import AuditContext, AuditLog


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
def log(context: AuditContext, fallback_path: Path) -> AuditLog:
    return AuditLog(context, fallback_path)
