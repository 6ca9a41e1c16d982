"""Run `proaudit reconcile` in-process against the sandbox (SQLite) or a PostgreSQL billing database,
and in a subprocess (for SIGKILL). Paystack is the sandbox simulator in every case."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
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

    def categories(self) -> dict[str, dict[str, Any]]:
        return {c["name"]: c for c in self.json()["data"]["categories"]}


Invoke = Callable[..., Ran]


def _invoke(args: list[str]) -> Ran:
    from proaudit_ops.cli.app import app

    result = CliRunner().invoke(app, args, catch_exceptions=False)
    return Ran(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def proaudit() -> Invoke:
    """proaudit(*args) against the sandbox (the autouse isolated home)."""
    return lambda *args: _invoke(list(args))


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
    return lambda *args: _invoke(list(args))


def subprocess_proaudit(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proaudit_ops", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
