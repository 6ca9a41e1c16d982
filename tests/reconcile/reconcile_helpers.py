"""Helpers for the reconcile tests (a module of its own: `conftest` is a name every folder has)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


def invoke(args: list[str]) -> Ran:
    from proaudit_ops.cli.app import app

    result = CliRunner().invoke(app, args, catch_exceptions=False)
    return Ran(result.exit_code, result.stdout, result.stderr)


def subprocess_proaudit(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proaudit_ops", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
