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
    # PSK-NOTENT-0001 is paid and processed but its subscription is still a trial: a replay cannot
    # fix it (the app answers "already applied"), so gaps stays a finding until the guarded fix.
    assert replayed.exit_code == 1, replayed.stderr
    assert [n["reference"] for n in replayed.json()["data"]["not_entitled"]] == ["PSK-NOTENT-0001"]
    assert {r["reference"] for r in replayed.json()["data"]["replays"]} == gaps
    assert all(r["delivery"]["status_code"] == 200 for r in replayed.json()["data"]["replays"])
    assert proaudit("payments", "verify", "PSK-NOTENT-0001", "--fix", "--yes").exit_code == 0
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
    # A 500 is an answer (still failing, exit 3); no answer may have reached the app (unknown, exit 5).
    for env, code in (({"PROAUDIT_APP_STATUS": "500"}, 3), ({"PROAUDIT_APP_TIMEOUT_RATE": "1"}, 5)):
        ran = proaudit("webhooks", "replay", "PSK-STUCK-0001", "--yes", env=env)
        assert ran.exit_code == code, ran.stderr
        assert len([line for line in ran.stderr.splitlines() if line.startswith("error:")]) == 1
    assert proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 1  # nothing applied
    outcomes = [
        r["outcome"] for r in proaudit("--json", "audit", "log", "--target", "PSK-STUCK-0001").json()["data"]["records"]
    ]
    assert outcomes == ["failed", "unknown"]


def test_replay_the_app_rejects_is_a_finding_not_audited_as_applied(proaudit) -> None:
    # Paystack has PSK-ORPHAN-0001 as a success; the app answers 200 "rejected" (unknown payment) and records
    # it failed. The app is up and said no: a finding for a human (exit 1), not an outage to wait out (3).
    ran = proaudit("webhooks", "replay", "PSK-ORPHAN-0001", "--yes")
    records = proaudit("--json", "audit", "log", "--target", "PSK-ORPHAN-0001").json()["data"]["records"]
    assert [r["outcome"] for r in records] == ["failed"]
    assert records[0]["after"]["inbox_status"] == "failed"
    assert records[0]["after"]["answer"] == "rejected"
    assert ran.exit_code == 1, ran.stderr
    assert "the app answered: rejected: unknown reference" in ran.stdout
    data = proaudit("--json", "webhooks", "replay", "PSK-ORPHAN-0001", "--yes").json()["data"]
    assert (data["outcome"], data["answer"], data["delivery"]["answer"]) == ("rejected", "rejected", "rejected")


def test_replay_an_answer_that_does_not_say_is_judged_by_the_status_code_and_the_rows(
    proaudit, isolated_env: Path
) -> None:
    # HTTP 200 with an HTML body (a proxy), nothing done: the answer is not guessed at, and the payment row
    # read back after the "delivery" shows it was not applied (exit 1), where the tool used to say delivered.
    from proaudit_ops.sandbox.billing_app import WEBHOOK_PATH
    from proaudit_ops.sandbox.faults import script_fault
    from proaudit_ops.sandbox.home import ensure_sandbox

    sandbox = ensure_sandbox(isolated_env / "sandbox.db")
    script_fault(sandbox, WEBHOOK_PATH, "malformed", count=2)
    sandbox.dispose()
    ran = proaudit("webhooks", "replay", "PSK-STUCK-0001", "--yes")
    assert ran.exit_code == 1, ran.stderr
    assert "accepted (HTTP 200; the answer does not say whether it applied)" in ran.stdout
    assert "not applied: the payment PSK-STUCK-0001 is still pending" in ran.stdout
    data = proaudit("--json", "webhooks", "replay", "PSK-STUCK-0001", "--yes").json()["data"]
    assert data["answer"] is None and data["delivery"]["status_code"] == 200
    assert data["entitlement"]["payment_status"] == "pending"
    applied = proaudit("--json", "webhooks", "replay", "PSK-STUCK-0001", "--yes").json()["data"]  # no fault left
    assert (applied["answer"], applied["entitlement"]["status"]) == ("applied", "entitled")


def test_gaps_replay_without_an_answer_is_unknown_on_screen_and_in_the_record(proaudit) -> None:
    ran = proaudit(
        "--json", "webhooks", "gaps", "--since", "30d", "--replay", "--yes", env={"PROAUDIT_APP_TIMEOUT_RATE": "1"}
    )
    assert ran.exit_code == 5, ran.stderr
    shown = {r["reference"]: r["verdict"] for r in ran.json()["data"]["replays"]}
    assert set(shown.values()) == {"unknown"}
    records = proaudit("--json", "audit", "log", "--since", "1h", "--limit", "500").json()["data"]["records"]
    recorded = {
        r["target"]: r["outcome"] for r in records if r["action"] == "webhooks.replay" and r["outcome"] != "planned"
    }
    assert recorded == dict.fromkeys(shown, "unknown")
    human = proaudit("webhooks", "gaps", "--since", "30d", "--replay", "--yes", env={"PROAUDIT_APP_TIMEOUT_RATE": "1"})
    assert f"0 accepted, 0 failed, {len(shown)} unknown" in human.stdout


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
    valid = proaudit("webhooks", "verify-signature", "--file", str(path), "--signature", expected)
    assert valid.exit_code == 0
    assert valid.stdout.strip() == "valid: signed with the configured secret key"  # the verdict once, not twice
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


# -- the audit trail of redeliveries (issue 11, section 5) -------------------------------------


def redeliver_records(proaudit) -> list[dict]:
    records = proaudit("--json", "audit", "log", "--since", "1d", "--limit", "500").json()["data"]["records"]
    return [r for r in records if r["action"] == "webhooks.redeliver"]


def test_retry_failed_records_the_verdict_the_screen_shows(proaudit) -> None:
    # PSK-ORPHAN-0001: the app answers 200 but its inbox keeps the event failed (unknown payment).
    ran = proaudit("--json", "webhooks", "retry-failed", "--hours", "720", "--yes")
    assert ran.exit_code == 1, ran.stderr
    recorded = {r["target"]: r["outcome"] for r in redeliver_records(proaudit)}
    assert recorded == {"PSK-ORPHAN-0001": "failed", "PSK-STUCK-0002": "applied", "PSK-STUCK-0003": "applied"}
    shown = {r["reference"]: r["verdict"] for r in ran.json()["data"]["redeliveries"]}
    assert shown["PSK-ORPHAN-0001"] == "still failing"
    assert shown["PSK-STUCK-0002"] == shown["PSK-STUCK-0003"] == "delivered"
    human = proaudit("webhooks", "retry-failed", "--hours", "720", "--yes")
    assert "0 delivered, 1 still failing" in human.stdout


class _InterruptAfterSecond:
    """The sandbox app's transport, interrupted (Ctrl-C) just after the app applied the 2nd event."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls = 0

    def handle_request(self, request):
        self.calls += 1
        response = self.inner.handle_request(request)
        if self.calls == 2:
            raise KeyboardInterrupt
        return response

    def close(self) -> None:
        self.inner.close()


def test_an_interrupted_retry_failed_records_every_attempt_that_may_have_had_an_effect(proaudit) -> None:
    import httpx

    from proaudit_ops.config import load_settings
    from proaudit_ops.core.webhooks.retry_failed import retry_failed
    from proaudit_ops.errors import ExitCode, Interrupted
    from proaudit_ops.protocols.guard import ApplyOptions
    from proaudit_ops.runtime import Runtime
    from proaudit_ops.sandbox.transport import app_transport

    class Interrupting(Runtime):
        def app_endpoint(self, url=None):
            _client, target = super().app_endpoint(url)
            inner = app_transport(self.engine(), self.secret_key())
            return httpx.Client(transport=_InterruptAfterSecond(inner)), target

    runtime = Interrupting(load_settings(None, None), argv=["proaudit", "webhooks", "retry-failed"])
    with runtime as rt, pytest.raises(Interrupted) as caught:
        retry_failed(
            rt,
            hours=720,
            event_type=None,
            concurrency=1,
            options=ApplyOptions(assume_yes=True),
            confirm=lambda _p: True,
        )
    assert caught.value.exit_code == ExitCode.INTERRUPTED
    message = caught.value.message
    assert "nothing more was done" not in message
    assert "2 of 3" in message and "1 not sent" in message
    # ORPHAN (1st) answered and still failing; STUCK-0003 (2nd) applied by the app, then Ctrl-C.
    recorded = {r["target"]: r for r in redeliver_records(proaudit)}
    assert set(recorded) == {"PSK-ORPHAN-0001", "PSK-STUCK-0003"}
    assert recorded["PSK-ORPHAN-0001"]["outcome"] == "failed"
    assert recorded["PSK-STUCK-0003"]["outcome"] in ("applied", "unknown")
    assert "interrupted" in recorded["PSK-STUCK-0003"]["after"]["error"]
    assert proaudit("payments", "verify", "PSK-STUCK-0003").exit_code == 0  # the app did apply it
    assert proaudit("payments", "verify", "PSK-STUCK-0002").exit_code == 1  # never sent
    assert proaudit("audit", "verify").exit_code == 0


def test_ctrl_c_during_a_slow_retry_failed_records_what_was_delivered(proaudit, isolated_env: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from sqlalchemy import text

    from proaudit_ops.db.engine import make_engine

    assert proaudit("sandbox", "status").exit_code in (0, 1)  # the sandbox exists before the run
    engine = make_engine(f"sqlite+pysqlite:///{isolated_env / 'sandbox.db'}")

    def attempts() -> dict[str, tuple[str, int]]:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT reference, status, attempts FROM webhook_events")).all()
        return {r.reference: (r.status, r.attempts) for r in rows}

    before = attempts()
    env = {**os.environ, "PROAUDIT_APP_LATENCY_MS": "2000"}
    args = ["webhooks", "retry-failed", "--hours", "720", "--concurrency", "1", "--yes"]
    child = subprocess.Popen(
        [sys.executable, "-m", "proaudit_ops", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while attempts() == before and time.monotonic() < deadline:  # the first event reached the app
            time.sleep(0.05)
        time.sleep(0.3)  # the second is in flight now (the app sleeps 2 s before it applies)
        child.send_signal(signal.SIGINT)
        _out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    engine.dispose()
    assert child.returncode == 130, err
    assert "nothing more was done" not in err
    assert "interrupted after" in err
    reached = {ref for ref, seen in attempts().items() if seen != before.get(ref)}
    recorded = {r["target"]: r["outcome"] for r in redeliver_records(proaudit)}
    assert len(reached) >= 1
    assert reached <= set(recorded)  # every event the app saw has its record
    for ref in reached:
        assert (
            recorded[ref] == ("applied" if attempts()[ref][0] == "processed" else "failed")
            or recorded[ref] == "unknown"
        )


def test_ctrl_c_while_a_replay_is_in_flight_is_recorded_as_unknown(proaudit) -> None:
    import httpx

    from proaudit_ops.config import load_settings
    from proaudit_ops.core.webhooks.replay import replay
    from proaudit_ops.errors import Interrupted
    from proaudit_ops.protocols.guard import ApplyOptions
    from proaudit_ops.runtime import Runtime
    from proaudit_ops.sandbox.transport import app_transport

    class Interrupting(Runtime):
        def app_endpoint(self, url=None):
            _client, target = super().app_endpoint(url)
            transport = _InterruptAfterSecond(app_transport(self.engine(), self.secret_key()))
            transport.calls = 1  # the first request is interrupted, after the app applied it
            return httpx.Client(transport=transport), target

    runtime = Interrupting(load_settings(None, None), argv=["proaudit", "webhooks", "replay"])
    with runtime as rt, pytest.raises(Interrupted) as caught:
        replay(rt, "PSK-STUCK-0001", ApplyOptions(assume_yes=True), lambda _p: True)
    assert "may have applied it" in caught.value.message
    records = proaudit("--json", "audit", "log", "--target", "PSK-STUCK-0001").json()["data"]["records"]
    assert [r["outcome"] for r in records] == ["unknown"]
    assert proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 0  # it was applied
