"""Run `proaudit` in-process (typer's CliRunner) or as a real process, for the recovery group."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
    """proaudit(*args, env=...) -> Ran, in-process, against the test's isolated home."""
    from proaudit_ops.cli.app import app

    def run(*args: str, env: dict[str, str] | None = None) -> Ran:
        result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
        return Ran(result.exit_code, result.stdout, result.stderr)

    return run


def run_process(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proaudit_ops", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
