"""Issue 11 §6: flags that do nothing without --fix (or --replay, --verify) are refused, not ignored.

An on-call engineer who typed --dry-run without --fix must not believe a fix was looked at.
"""

from __future__ import annotations

import pytest

CASES = [
    (["payments", "verify", "PSK-STUCK-0001", "--dry-run"], "--dry-run does nothing without --fix"),
    (["payments", "verify", "PSK-STUCK-0001", "--yes"], "--yes does nothing without --fix"),
    (["payments", "verify", "PSK-STUCK-0001", "--plan-out", "p.json"], "--plan-out does nothing without --fix"),
    (["payments", "verify", "PSK-STUCK-0001", "--show-sql", "--live"], "--live, --show-sql do nothing without --fix"),
    (["payments", "stuck", "--verify", "--dry-run"], "--dry-run does nothing without --fix"),
    (["payments", "stuck", "--plan-out", "p.json", "--yes"], "--yes, --plan-out do nothing without --fix"),
    (["payments", "stuck", "--concurrency", "4"], "--concurrency does nothing without --verify or --fix"),
    (["webhooks", "gaps", "--dry-run"], "--dry-run does nothing without --replay"),
    (["webhooks", "gaps", "--yes", "--url", "http://127.0.0.1:9/x"], "--url, --yes do nothing without --replay"),
]


@pytest.mark.parametrize(("args", "message"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_idle_flag_is_a_usage_error(proaudit, tmp_path, args: list[str], message: str) -> None:
    ran = proaudit(*[str(tmp_path / a) if a == "p.json" else a for a in args])
    assert ran.exit_code == 2, ran.stdout + ran.stderr
    errors = [line for line in ran.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], ran.stderr
    assert not (tmp_path / "p.json").exists()
    assert ran.stdout == ""


def test_idle_flag_json_envelope(proaudit) -> None:
    ran = proaudit("--json", "payments", "verify", "PSK-STUCK-0001", "--dry-run")
    assert ran.exit_code == 2
    assert ran.json()["status"] == "usage_error"
    assert "--dry-run does nothing without --fix" in ran.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "args",
    [
        ["payments", "verify", "PSK-STUCK-0001", "--fix", "--dry-run"],
        ["payments", "stuck", "--fix", "--dry-run", "--concurrency", "2"],
        ["payments", "stuck", "--verify", "--concurrency", "2"],
        ["webhooks", "gaps", "--replay", "--dry-run"],
    ],
)
def test_the_same_flags_with_their_command_are_fine(proaudit, args: list[str]) -> None:
    assert proaudit(*args).exit_code in (0, 1)
