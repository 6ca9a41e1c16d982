"""`proaudit` in-process against the sandbox (the autouse isolated home of tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def pg_proaudit(proaudit: Any, pg_engine: Any, pg_url: str, isolated_env: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """proaudit against seeded billing data in PostgreSQL, Paystack = the sandbox simulator."""
    from proaudit_ops.sandbox.home import ensure_sandbox
    from proaudit_ops.sandbox.seed import seed_billing
    from proaudit_ops.timeutil import utcnow

    seed_billing(pg_engine, now=utcnow())
    ensure_sandbox(isolated_env / "sandbox.db").dispose()
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("PROAUDIT_PAYSTACK_SIMULATOR", "true")

    return proaudit  # the root runner: it inherits the environment set above
