"""`proaudit` in-process against the sandbox (the autouse isolated home of tests/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner


@dataclass
class Ran:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)  # type: ignore[no-any-return]


Invoke = Callable[..., Ran]


@pytest.fixture
def proaudit() -> Invoke:
    def run(*args: str, env: dict[str, str] | None = None) -> Ran:
        from proaudit_ops.cli.app import app

        result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
        return Ran(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def pg_proaudit(pg_engine: Any, pg_url: str, isolated_env: Any, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """proaudit against seeded billing data in PostgreSQL, Paystack = the sandbox simulator."""
    from proaudit_ops.sandbox.home import ensure_sandbox
    from proaudit_ops.sandbox.seed import seed_billing
    from proaudit_ops.timeutil import utcnow

    seed_billing(pg_engine, now=utcnow())
    ensure_sandbox(isolated_env / "sandbox.db").dispose()
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("PROAUDIT_PAYSTACK_SIMULATOR", "true")

    def run(*args: str, env: dict[str, str] | None = None) -> Ran:
        from proaudit_ops.cli.app import app

        result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
        return Ran(result.exit_code, result.stdout, result.stderr)

    return run
