"""Issue 11 §6: tables never cut a reference, an amount, a diagnosis or a timestamp.

"terminal" runs make rich treat the captured output as a 60-column terminal (TTY_COMPATIBLE=1,
COLUMNS=60); "piped" runs are a plain pipe with COLUMNS=60 still set: a pipe gets full values.
"""

from __future__ import annotations

import re

import pytest

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TERMINAL_60 = {"TTY_COMPATIBLE": "1", "COLUMNS": "60"}
PIPED_60 = {"TTY_COMPATIBLE": "0", "COLUMNS": "60"}
MODES = pytest.mark.parametrize("env", [TERMINAL_60, PIPED_60], ids=["terminal60", "piped"])


def screen(ran: object) -> str:
    return ANSI.sub("", ran.stdout)  # type: ignore[attr-defined]


def check_screen(text: str, env: dict[str, str], values: list[str]) -> None:
    for value in values:
        assert value in text, f"{value!r} cut or missing in:\n{text}"
    assert "…" not in text, text
    if env is TERMINAL_60:
        too_wide = [line for line in text.splitlines() if len(line) > 60]
        assert not too_wide, "\n".join(too_wide)


@MODES
def test_stuck_verify_keeps_references_amounts_diagnoses(proaudit, env: dict[str, str]) -> None:
    data = proaudit("--json", "payments", "stuck", "--verify").json()["data"]
    ran = proaudit("payments", "stuck", "--verify", env=env)
    assert ran.exit_code in (1, 3), ran.stderr
    values = [i["reference"] for i in data["items"]] + [i["amount"]["formatted"] for i in data["items"]]
    values += [i["diagnosis"] for i in data["items"] if i["diagnosis"]]
    assert "unknown_to_paystack" in values and "PSK-ABANDONED-0001" in values
    check_screen(screen(ran), env, values)


@MODES
def test_gaps_keeps_paid_at_whole(proaudit, env: dict[str, str]) -> None:
    data = proaudit("--json", "webhooks", "gaps", "--since", "30d").json()["data"]
    ran = proaudit("webhooks", "gaps", "--since", "30d", env=env)
    values = [g["reference"] for g in data["gaps"]] + [g["paid_at"] for g in data["gaps"]]
    values += [g["amount"]["formatted"] for g in data["gaps"]]
    check_screen(screen(ran), env, values)


@MODES
def test_verify_keeps_amount_and_paid_at(proaudit, env: dict[str, str]) -> None:
    data = proaudit("--json", "payments", "verify", "PSK-STUCK-0001").json()["data"]
    ran = proaudit("payments", "verify", "PSK-STUCK-0001", env=env)
    check_screen(screen(ran), env, ["PSK-STUCK-0001", "₦150,000.00", "(15000000)", data["paystack"]["paid_at"]])


@MODES
def test_show_status_and_sandbox_status(proaudit, env: dict[str, str]) -> None:
    data = proaudit("--json", "payments", "show", "PSK-STUCK-0001").json()["data"]
    shown = screen(proaudit("payments", "show", "PSK-STUCK-0001", env=env))
    check_screen(shown, env, ["PSK-STUCK-0001", data["payment"]["created_at"], "15000000 kobo = ₦150,000.00"])
    check_screen(screen(proaudit("payments", "status", "--since", "30d", env=env)), env, ["success rate"])
    refs = proaudit("--json", "sandbox", "status").json()["data"]["references"]
    check_screen(screen(proaudit("sandbox", "status", env=env)), env, list(refs))


@MODES
def test_fix_plan_and_audit_log(proaudit, env: dict[str, str]) -> None:
    ran = proaudit("payments", "stuck", "--fix", "--dry-run", env=env)
    assert ran.exit_code == 1, ran.stderr
    check_screen(screen(ran), env, ["PSK-STUCK-0001", "PSK-ABANDONED-0001", "status = pending"])
    records = proaudit("--json", "audit", "log").json()["data"]["records"]
    logged = screen(proaudit("audit", "log", env=env))
    check_screen(logged, env, [records[0]["ts"], records[0]["action"], records[0]["outcome"]])


@MODES
def test_retry_failed_and_config_show(proaudit, env: dict[str, str]) -> None:
    ran = proaudit("webhooks", "retry-failed", "--yes", env=env)
    refs = [r["reference"] for r in proaudit("--json", "audit", "log").json()["data"]["records"] if r.get("reference")]
    check_screen(screen(ran), env, ["PSK-STUCK-0003", "PSK-STUCK-0002", *refs])
    check_screen(screen(proaudit("config", "show", env=env)), env, ["sandbox"])


def test_a_dropped_column_is_named(proaudit) -> None:
    text = screen(proaudit("payments", "stuck", "--verify", env=TERMINAL_60))
    assert "not shown at this width" in text


def test_pipe_lines_are_not_wrapped(proaudit) -> None:
    text = screen(proaudit("payments", "stuck", "--verify", env=PIPED_60))
    summary = [line for line in text.splitlines() if line.startswith("5 pending; fixable:")]
    assert summary and summary[0].endswith("total ₦500,000.00"), text


def test_prompt_details_on_a_piped_stderr_are_whole_lines(proaudit, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("proaudit_ops.cli.mutation.is_interactive", lambda: True)
    ran = proaudit("webhooks", "retry-failed", input="n\n", env=PIPED_60)
    assert ran.exit_code == 4
    details = [line for line in ran.stderr.splitlines() if "reference=PSK-STUCK-0002" in line]
    assert details and details[0].rstrip().endswith("timeout 30.00"), ran.stderr
