"""`proaudit --help` must not import the heavy libraries (DESIGN: keep help fast)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "httpx",
    "sqlalchemy",
    "psycopg",
    "redis",
    "pydantic",
    "pydantic_settings",
    "rich",
    "tenacity",
)

PROBE = """
import json, sys
from proaudit_ops.cli.app import app
try:
    app(["--help"], prog_name="proaudit")
except SystemExit:
    pass
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))
"""


def test_help_imports_no_heavy_library() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "typer" in loaded  # the probe really ran the app
    assert not loaded & set(HEAVY), f"--help imported {sorted(loaded & set(HEAVY))}"


# Typer >= 0.2x coerces parsed parameters through pydantic, so a group's help (which parses the
# root options) loads pydantic via Typer itself; what we control must still stay out.
OURS_HEAVY = ("httpx", "sqlalchemy", "psycopg", "redis", "rich", "tenacity")


def test_each_group_help_stays_light() -> None:
    for group in ("payments", "webhooks", "audit", "sandbox", "config"):
        probe = PROBE.replace('["--help"]', f'["{group}", "--help"]')
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
        assert not loaded & set(OURS_HEAVY), f"{group} --help imported {sorted(loaded & set(OURS_HEAVY))}"


def test_python_dash_m_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "proaudit_ops", "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.startswith("proaudit ")


def test_every_listed_group_resolves_and_unknown_is_usage() -> None:
    from typer.testing import CliRunner

    from proaudit_ops.cli.app import app
    from proaudit_ops.cli.groups import GROUPS

    runner = CliRunner()
    root = runner.invoke(app, ["--help"])
    assert root.exit_code == 0
    for name, group in GROUPS.items():
        assert name in root.stdout
        sub = runner.invoke(app, [name, "--help"])
        assert sub.exit_code == 0, name
        assert group.help.split(" (")[0].split(":")[0] in " ".join(sub.stdout.split())
    unknown = runner.invoke(app, ["refundz"])
    assert unknown.exit_code == 2
