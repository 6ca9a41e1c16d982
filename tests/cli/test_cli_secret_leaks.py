"""A recognisable fake key and DSN password never reach stdout, stderr (even --debug
tracebacks), the audit log or the plan files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CANARY_KEY = "sk_test_LEAKCANARY0123456789abcdefXYZ"
CANARY_PW = "PwCanary8822"


@pytest.fixture
def leaky_env(tmp_path: Path) -> dict[str, str]:
    from proaudit_ops.sandbox.home import ensure_sandbox

    db = tmp_path / "billing.db"
    ensure_sandbox(db).dispose()
    return {
        "PAYSTACK_SECRET_KEY": CANARY_KEY,
        "PAYSTACK_WEBHOOK_SECRET": CANARY_KEY + " ",
        "DATABASE_URL": f"sqlite+pysqlite:///{db}",
        "PROAUDIT_PAYSTACK_SIMULATOR": "true",
        "PROAUDIT_HOME": str(tmp_path),
        "PROAUDIT_REDIS_URL": f"redis://:{CANARY_PW}@127.0.0.1:6379/0",
    }


COMMANDS = [
    ["payments", "verify", "PSK-STUCK-0001"],
    ["--json", "payments", "verify", "PSK-OK-0001"],
    ["--debug", "payments", "verify", "PSK-NOPE-0001"],
    ["payments", "verify", "PSK-STUCK-0001", "--fix", "--yes"],
    ["payments", "verify", "PSK-ABANDONED-0001", "--fix", "--dry-run", "--show-sql"],
    ["--json", "payments", "stuck", "--verify"],
    ["config", "show"],
    ["--json", "config", "show"],
    ["config", "check"],
    ["--json", "audit", "log"],
    ["webhooks", "replay", "PSK-STUCK-0002", "--yes"],
    ["webhooks", "test"],
]


def test_no_secret_in_any_output(proaudit, leaky_env: dict[str, str], tmp_path: Path) -> None:
    seen = []
    for args in COMMANDS:
        ran = proaudit(*args, env=leaky_env)
        seen.append((args, ran.stdout + ran.stderr))
    for args, text in seen:
        assert CANARY_KEY not in text, args
        assert "LEAKCANARY" not in text, args
        assert CANARY_PW not in text, args


def test_debug_tracebacks_are_masked(proaudit, leaky_env: dict[str, str]) -> None:
    env = {**leaky_env, "PROAUDIT_SIM_ERROR_RATE": "1", "PAYSTACK_MAX_RETRIES": "0"}
    ran = proaudit("--debug", "payments", "verify", "PSK-OK-0001", env=env)
    assert ran.exit_code == 3
    assert "Traceback" in ran.stderr  # --debug does show it...
    assert "LEAKCANARY" not in ran.stdout + ran.stderr  # ...without the key


def test_audit_log_command_line_is_masked(proaudit, leaky_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setattr(
        sys,
        "argv",
        [
            "proaudit",
            "payments",
            "verify",
            "PSK-STUCK-0001",
            "--fix",
            "--yes",
            f"--password={CANARY_PW}",
        ],
    )
    proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--yes", env=leaky_env)
    records = proaudit("--json", "audit", "log", env=leaky_env).json()["data"]["records"]
    assert records
    dumped = json.dumps(records)
    assert "LEAKCANARY" not in dumped and CANARY_PW not in dumped


def test_bad_password_dsn_is_masked(proaudit) -> None:
    env = {
        "DATABASE_URL": f"postgresql://postgres:{CANARY_PW}@127.0.0.1:5432/no_such_db",
        "PROAUDIT_PAYSTACK_SIMULATOR": "true",
    }
    ran = proaudit("--debug", "payments", "verify", "PSK-OK-0001", env=env)
    assert ran.exit_code == 3
    assert CANARY_PW not in ran.stdout + ran.stderr
