"""Issue 4 through the command line, against the sandbox's Paystack simulator and billing app."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY


def subscription_of(proaudit, reference: str) -> dict:
    return proaudit("--json", "payments", "show", reference).json()["data"]["subscription"]


def test_gaps_finds_missed_payments_replay_fixes_them_second_run_finds_none(proaudit) -> None:
    found = proaudit("--json", "webhooks", "gaps", "--since", "30d")
    assert found.exit_code == 1
    gaps = {g["reference"] for g in found.json()["data"]["gaps"]}
    assert {"PSK-MISSED-0001", "PSK-STUCK-0001"} <= gaps
    assert "PSK-OK-0001" not in gaps
    assert "PSK-ORPHAN-0001" in found.json()["data"]["not_in_database"]
    replayed = proaudit("--json", "webhooks", "gaps", "--since", "30d", "--replay", "--yes")
    assert replayed.exit_code == 0, replayed.stderr
    assert {r["reference"] for r in replayed.json()["data"]["replays"]} == gaps
    assert all(r["delivery"]["status_code"] == 200 for r in replayed.json()["data"]["replays"])
    again = proaudit("--json", "webhooks", "gaps", "--since", "30d")
    assert again.exit_code == 0
    assert again.json()["data"]["gaps"] == []
    assert proaudit("payments", "verify", "PSK-MISSED-0001").exit_code == 0
    assert proaudit("audit", "verify").exit_code == 0


def test_gaps_24h_window_leaves_older_ones_out(proaudit) -> None:
    gaps = {g["reference"] for g in proaudit("--json", "webhooks", "gaps", "--since", "24h").json()["data"]["gaps"]}
    assert "PSK-STUCK-0001" in gaps
    assert "PSK-MISSED-0001" not in gaps


def test_replay_is_deduplicable_and_applies_once(proaudit) -> None:
    first = proaudit("--json", "webhooks", "replay", "PSK-STUCK-0001", "--dry-run").json()["data"]
    second = proaudit("--json", "webhooks", "replay", "PSK-STUCK-0001", "--dry-run").json()["data"]
    assert first["event"] == second["event"]  # same event body for the same reference
    assert first["signature"] == second["signature"]
    assert proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 1  # dry run sent nothing
    assert proaudit("webhooks", "replay", "PSK-STUCK-0001", "--yes").exit_code == 0
    period = subscription_of(proaudit, "PSK-STUCK-0001")["current_period_end"]
    assert proaudit("webhooks", "replay", "PSK-STUCK-0001", "--yes").exit_code == 0
    assert subscription_of(proaudit, "PSK-STUCK-0001")["current_period_end"] == period  # not extended twice
    assert proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 0
    attempts = [
        r
        for r in proaudit("--json", "audit", "log", "--target", "PSK-STUCK-0001").json()["data"]["records"]
        if r["action"] == "webhooks.replay"
    ]
    assert [r["outcome"] for r in attempts] == ["planned", "planned", "applied", "applied"]
    assert attempts[-1]["after"]["status_code"] == 200


@pytest.mark.parametrize(
    ("reference", "code"),
    [("PSK-FAILED-0001", 4), ("PSK-ABANDONED-0001", 4), ("PSK-GHOST-0001", 4), ("no way", 2)],
)
def test_replay_refuses_what_paystack_does_not_call_success(proaudit, reference: str, code: int) -> None:
    ran = proaudit("webhooks", "replay", reference, "--yes")
    assert ran.exit_code == code
    assert "Traceback" not in ran.stderr


def test_replay_endpoint_failures_are_exit_3_and_audited(proaudit) -> None:
    for env in ({"PROAUDIT_APP_STATUS": "500"}, {"PROAUDIT_APP_TIMEOUT_RATE": "1"}):
        ran = proaudit("webhooks", "replay", "PSK-STUCK-0001", "--yes", env=env)
        assert ran.exit_code == 3, ran.stderr
        assert len([line for line in ran.stderr.splitlines() if line.startswith("error:")]) == 1
    assert proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 1  # nothing applied
    outcomes = [
        r["outcome"] for r in proaudit("--json", "audit", "log", "--target", "PSK-STUCK-0001").json()["data"]["records"]
    ]
    assert outcomes == ["failed", "failed"]


def test_replay_paystack_unreachable_is_exit_3(proaudit) -> None:
    ran = proaudit(
        "webhooks",
        "replay",
        "PSK-STUCK-0001",
        "--yes",
        env={"PROAUDIT_SIM_ERROR_RATE": "1", "PAYSTACK_MAX_RETRIES": "0"},
    )
    assert ran.exit_code == 3


def failed_inbox(proaudit) -> int:
    ran = proaudit("--json", "webhooks", "retry-failed", "--dry-run", "--hours", "720")
    return len(ran.json()["data"]["pending"])


def test_retry_failed_with_500_leaves_them_failed_with_the_error(proaudit) -> None:
    before = failed_inbox(proaudit)
    assert before >= 2
    ran = proaudit(
        "--json",
        "webhooks",
        "retry-failed",
        "--hours",
        "720",
        "--yes",
        env={"PROAUDIT_APP_STATUS": "500"},
    )
    assert ran.exit_code == 1
    redeliveries = ran.json()["data"]["redeliveries"]
    assert len(redeliveries) == before
    assert all(r["delivery"]["status_code"] == 500 and r["inbox_status"] == "failed" for r in redeliveries)
    assert all(r["inbox_error"] for r in redeliveries)
    assert failed_inbox(proaudit) == before


def test_retry_failed_empties_the_failed_inbox_when_healthy(proaudit) -> None:
    ran = proaudit("--json", "webhooks", "retry-failed", "--yes")  # the default 24 hours
    assert ran.exit_code == 0, ran.stderr
    assert ran.json()["data"]["redeliveries"]
    assert all(r["inbox_status"] == "processed" for r in ran.json()["data"]["redeliveries"])
    nothing = proaudit("--json", "webhooks", "retry-failed", "--yes")
    assert nothing.json()["data"]["outcome"] == "nothing"
    # An older event whose payment the app does not know stays failed, with the app's reason.
    older = proaudit("--json", "webhooks", "retry-failed", "--hours", "720", "--yes")
    assert older.exit_code == 1
    (left,) = older.json()["data"]["redeliveries"]
    assert left["reference"] == "PSK-ORPHAN-0001"
    assert left["inbox_status"] == "failed" and "PSK-ORPHAN-0001" in left["inbox_error"]
    redeliveries = [
        r
        for r in proaudit("--json", "audit", "log", "--limit", "500").json()["data"]["records"]
        if r["action"] == "webhooks.redeliver"
    ]
    assert len(redeliveries) == len(ran.json()["data"]["redeliveries"]) + 1  # every attempt recorded


def test_retry_failed_needs_yes_without_a_tty(proaudit) -> None:
    ran = proaudit("webhooks", "retry-failed", "--hours", "720")
    assert ran.exit_code == 4


def test_endpoint_test_passes_on_healthy_and_fails_on_500(proaudit) -> None:
    assert proaudit("webhooks", "test").exit_code == 0
    broken = proaudit("--json", "webhooks", "test", env={"PROAUDIT_APP_STATUS": "500"})
    assert broken.exit_code == 1
    assert broken.json()["data"]["signed"]["status_code"] == 500


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_sign_and_verify_signature_commands(proaudit, tmp_path: Path) -> None:
    body = b'{"event":"charge.success","data":{"reference":"PSK-OK-0001","domain":"test"}}'
    path = write(tmp_path, "body.json", body)
    signed = proaudit("webhooks", "sign", "--file", str(path))
    assert signed.exit_code == 0
    expected = hmac.new(SANDBOX_SECRET_KEY.encode(), body, hashlib.sha512).hexdigest()
    assert signed.stdout.strip() == expected
    assert proaudit("webhooks", "verify-signature", "--file", str(path), "--signature", expected).exit_code == 0
    wrong = proaudit("--json", "webhooks", "verify-signature", "--file", str(path), "--signature", "ab" * 64)
    assert wrong.exit_code == 1
    assert wrong.json()["data"]["verdict"] == "wrong_key"
    short = proaudit("--json", "webhooks", "verify-signature", "--file", str(path), "--signature", "abc")
    assert short.exit_code == 1
    assert short.json()["data"]["verdict"] == "malformed_header"


def test_bad_bodies_are_exit_2(proaudit, tmp_path: Path) -> None:
    not_json = write(tmp_path, "x.txt", b"hello")
    huge = write(tmp_path, "huge.json", b'{"a":"' + b"x" * (1024 * 1024 + 10) + b'"}')
    for path in (not_json, huge, tmp_path / "missing.json"):
        ran = proaudit("webhooks", "verify-signature", "--file", str(path), "--signature", "a" * 128)
        assert ran.exit_code == 2, ran.stderr
        assert "Traceback" not in ran.stderr
