"""The drill tests' in-process CLI and the score as data (imported by the test modules here)."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner, Result


def cli(*args: str) -> Result:
    from proaudit_ops.cli.app import app

    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert "Traceback" not in result.stderr
    return result


def score() -> dict[str, Any]:
    ran = cli("--json", "drill", "score")
    data: dict[str, Any] = json.loads(ran.stdout)["data"]
    data["exit"] = ran.exit_code
    data["failed"] = {c["name"] for c in data["checks"] if not c["passed"]}
    return data
