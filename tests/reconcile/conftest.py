"""Run `proaudit reconcile` in-process against the sandbox (SQLite) or a PostgreSQL billing database.
Paystack is the sandbox simulator in every case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from reconcile_helpers import Invoke, invoke


@pytest.fixture
def proaudit() -> Invoke:
    """proaudit(*args) against the sandbox (the autouse isolated home)."""
    return lambda *args: invoke(list(args))


@pytest.fixture
def pg_proaudit(pg_engine: Any, pg_url: str, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """proaudit against the seeded billing data in PostgreSQL; Paystack = the sandbox simulator."""
    from proaudit_ops.sandbox.home import ensure_sandbox
    from proaudit_ops.sandbox.seed import seed_billing
    from proaudit_ops.timeutil import utcnow

    seed_billing(pg_engine, now=utcnow())
    ensure_sandbox(isolated_env / "sandbox.db").dispose()
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("PROAUDIT_PAYSTACK_SIMULATOR", "true")
    return lambda *args: invoke(list(args))
