"""`proaudit sandbox status|reset|serve` (the command module, mounted on a bare root here)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from proaudit_ops.cli import sandbox as sandbox_cli
from proaudit_ops.cli.runner import GlobalOptions


def _root(json_output: bool = False) -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = GlobalOptions(json=json_output, argv=["proaudit"])

    root.add_typer(sandbox_cli.app, name="sandbox")
    return root


def test_status_lists_the_seeded_references(isolated_env: Path) -> None:
    result = CliRunner().invoke(_root(), ["sandbox", "status"])
    assert result.exit_code == 0, result.output
    assert "PSK-STUCK-0001" in result.output
    assert "organizations: 19" in result.output
    assert (isolated_env / "sandbox.db").exists()


def test_reset_json_envelope(isolated_env: Path) -> None:
    result = CliRunner().invoke(_root(json_output=True), ["sandbox", "reset"])
    assert result.exit_code == 0, result.output
    envelope = json.loads(result.stdout)
    assert envelope["command"] == "sandbox reset"
    assert envelope["data"]["organizations"] == 19
    assert envelope["data"]["payments_by_status"]["pending"] == 7


def test_serve_rejects_bad_fault_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    bad_flag = CliRunner().invoke(_root(), ["sandbox", "serve", "--error-rate", "2"])
    assert bad_flag.exit_code == 2
    wide = CliRunner().invoke(_root(), ["sandbox", "serve", "--host", "0.0.0.0"])
    assert wide.exit_code == 2
    assert "loopback" in wide.output
    monkeypatch.setenv("PROAUDIT_SIM_TIMEOUT_RATE", "often")
    bad_env = CliRunner().invoke(_root(), ["sandbox", "serve"])
    assert bad_env.exit_code == 2
    assert "PROAUDIT_SIM_TIMEOUT_RATE" in bad_env.output


SERVE = """
import sys, typer
from proaudit_ops.cli import sandbox
from proaudit_ops.cli.runner import GlobalOptions
root = typer.Typer()
@root.callback()
def main(ctx: typer.Context) -> None:
    ctx.obj = GlobalOptions(argv=["proaudit"])
root.add_typer(sandbox.app, name="sandbox")
root(["sandbox", "serve", "--port", "0", "--app-status", "503"], prog_name="proaudit")
"""


@pytest.mark.slow
def test_serve_answers_until_sigterm(isolated_env: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", SERVE], env=dict(os.environ), stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        url = None
        for line in process.stderr:
            match = re.search(r"http://127\.0\.0\.1:\d+", line)
            if match:
                url = match.group(0)
                break
        assert url is not None
        assert httpx.get(f"{url}/health", timeout=5).status_code == 503  # --app-status
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


HOLDER = """
import sys
from pathlib import Path
from proaudit_ops.sandbox.home import ensure_sandbox
engine = ensure_sandbox(Path(sys.argv[1]))
print("ready", flush=True)
sys.stdin.read()
engine.dispose()
"""


def test_reset_while_another_process_uses_the_sandbox_is_refused_unless_forced(isolated_env: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(isolated_env / "sandbox.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        refused = CliRunner().invoke(_root(), ["sandbox", "reset"])
        assert refused.exit_code == 4, refused.output
        assert f"pid {proc.pid}" in refused.stderr
        assert "--force" in refused.stderr
        forced = CliRunner().invoke(_root(), ["sandbox", "reset", "--force"])
        assert forced.exit_code == 0, forced.output
        assert f"pid {proc.pid}" in forced.stderr and "restart them" in forced.stderr
    finally:
        proc.communicate("", timeout=30)
    assert CliRunner().invoke(_root(), ["sandbox", "reset"]).exit_code == 0
