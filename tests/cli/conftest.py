"""Run `proaudit` in-process against a PostgreSQL database (the root conftest's `proaudit` runs
against the sandbox)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from proaudit_fixtures import Invoke


@pytest.fixture
def pg_proaudit(
    proaudit: Invoke, pg_engine: Any, pg_url: str, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> Invoke:
    """proaudit against the seeded billing data in PostgreSQL, Paystack = the sandbox simulator."""
    from proaudit_ops.sandbox.home import ensure_sandbox
    from proaudit_ops.sandbox.seed import seed_billing
    from proaudit_ops.timeutil import utcnow

    seed_billing(pg_engine, now=utcnow())
    ensure_sandbox(isolated_env / "sandbox.db").dispose()  # the simulator's state
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("PROAUDIT_PAYSTACK_SIMULATOR", "true")
    return proaudit
