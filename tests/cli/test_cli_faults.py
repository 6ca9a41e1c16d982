"""Paystack faults, bad configuration and Ctrl-C: one line, the documented exit code, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("env", "code", "words"),
    [
        ({"PROAUDIT_SIM_ERROR_RATE": "1"}, 3, "500"),
        ({"PROAUDIT_SIM_RATE_LIMIT_RATE": "1", "PROAUDIT_SIM_RETRY_AFTER_S": "0"}, 3, "429"),
        ({"PROAUDIT_SIM_TIMEOUT_RATE": "1"}, 3, "did not answer"),
        ({"PROAUDIT_SIM_MALFORMED_RATE": "1"}, 3, "not JSON"),
        ({"PROAUDIT_SIM_LATENCY_MS": "fast"}, 2, "PROAUDIT_SIM_LATENCY_MS"),
    ],
)
def test_paystack_faults(proaudit, env: dict[str, str], code: int, words: str) -> None:
    ran = proaudit("--json", "payments", "verify", "PSK-OK-0001", env={**env, "PAYSTACK_MAX_RETRIES": "1"})
    assert ran.exit_code == code, ran.stderr
    errors = [line for line in ran.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert words in errors[0]
    assert "Traceback" not in ran.stderr
    assert ran.json()["errors"][0]["message"] in errors[0]


def test_malformed_key_is_refused_before_paystack_sees_it(proaudit, tmp_path: Path) -> None:
    # Once a 401 from the simulator; the key's shape is now checked when the settings load (exit 2).
    # Paystack's own 401 with a well-formed key: tests/paystack/test_paystack_errors.py.
    from proaudit_ops.sandbox.home import ensure_sandbox

    db = tmp_path / "b.db"
    ensure_sandbox(db).dispose()
    env = {
        "PAYSTACK_SECRET_KEY": "sk_bogus_1234567",
        "DATABASE_URL": f"sqlite+pysqlite:///{db}",
        "PROAUDIT_PAYSTACK_SIMULATOR": "true",
    }
    ran = proaudit("payments", "verify", "PSK-OK-0001", env=env)
    assert ran.exit_code == 2
    assert "PAYSTACK_SECRET_KEY (environment) is not a Paystack secret key" in ran.stderr
    assert "sk_bogus_1234567" not in ran.stderr


def test_missing_key_outside_the_sandbox_is_a_usage_error(proaudit, tmp_path: Path) -> None:
    from proaudit_ops.sandbox.home import ensure_sandbox

    ensure_sandbox(tmp_path / "x.db").dispose()
    ran = proaudit("payments", "verify", "PSK-OK-0001", env={"DATABASE_URL": f"sqlite+pysqlite:///{tmp_path / 'x.db'}"})
    assert ran.exit_code == 2
    assert "PAYSTACK_SECRET_KEY is not set" in ran.stderr


def test_database_without_the_schema_says_so(proaudit, tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+pysqlite:///{tmp_path / 'empty.db'}", "PROAUDIT_PAYSTACK_SIMULATOR": "true"}
    ran = proaudit("payments", "verify", "PSK-OK-0001", env=env)
    assert ran.exit_code == 3
    assert "payment_transactions" in ran.stderr
    assert "config check" in ran.stderr


def test_bad_config_and_profile(proaudit, tmp_path: Path) -> None:
    assert proaudit("--config", str(tmp_path / "nope.toml"), "payments", "verify", "PSK-OK-0001").exit_code == 2
    assert proaudit("--profile", "production", "payments", "verify", "PSK-OK-0001").exit_code == 2
    ran = proaudit("--json", "--profile", "production", "payments", "verify", "PSK-OK-0001")
    assert ran.json()["status"] == "usage_error"


def test_ctrl_c_at_the_prompt_is_130_and_changes_nothing(proaudit, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("proaudit_ops.cli.mutation.is_interactive", lambda: True)

    def interrupted(_question: str) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr("proaudit_ops.cli.confirm.ask", interrupted)
    ran = proaudit("payments", "verify", "PSK-STUCK-0001", "--fix")
    assert ran.exit_code == 130
    assert proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 1
    outcomes = [r["outcome"] for r in proaudit("--json", "audit", "log").json()["data"]["records"]]
    assert outcomes == ["aborted"]


def test_declining_at_the_prompt_changes_nothing(proaudit, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("proaudit_ops.cli.mutation.is_interactive", lambda: True)
    # A one-row fix (a stuck payment's plan has its subscription too: two rows, the count is typed)
    ran = proaudit("payments", "verify", "PSK-ABANDONED-0001", "--fix", input="n\n")
    assert ran.exit_code == 4
    assert "[y/N]" in ran.stderr
    assert proaudit("payments", "verify", "PSK-ABANDONED-0001").exit_code == 1
    ok = proaudit("payments", "verify", "PSK-ABANDONED-0001", "--fix", input="y\n")
    assert ok.exit_code == 0
    assert proaudit("payments", "verify", "PSK-ABANDONED-0001").exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--json", "payments", "stuck", "--since", "soon"],
        ["--json", "payments", "verify"],
        ["--json", "payments", "stuck", "--concurrency", "0"],
        ["--json", "refundz"],
    ],
)
def test_parser_usage_errors_still_get_the_envelope(proaudit, args: list[str]) -> None:
    ran = proaudit(*args)
    assert ran.exit_code == 2
    envelope = ran.json()
    assert envelope["status"] == "usage_error"
    assert envelope["exit_code"] == 2
    assert envelope["errors"][0]["message"]
    # The human message is still on stderr: one `error:` line, like every other error.
    assert ran.stderr.startswith("error: ") and ran.stderr.count("\n") == 1
