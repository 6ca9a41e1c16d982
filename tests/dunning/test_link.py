"""`dunning link` on the sandbox: one POST per open link (a second call prints the same URL), a
SIGKILL at each link point then a rerun (one transaction at the simulator, the same link), a lost
answer (exit 5, then the reference verified first), the refusals; and the seeded do-not-retry
cards: a regulated card (24 h wait) and a 2FA card (the charge pauses with its URL, never twice)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from proaudit_ops.sandbox.dataset import ORG_BY_SLUG, REGULATED_ANSWER
from proaudit_ops.sandbox.faults import script_fault
from tests.dunning.test_dunning import SAHEL, charges, cli, record_of, sandbox_db

KANO = ORG_BY_SLUG["kano"].name
ENUGU = ORG_BY_SLUG["enugu"].name


def sim_rows(home: Path, like: str) -> list[dict[str, object]]:
    engine = create_engine(f"sqlite:///{sandbox_db(home)}")
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT reference, status, amount, currency, metadata FROM sim_transactions WHERE reference LIKE :l"),
            {"l": like},
        ).all()
    engine.dispose()
    return [dict(r._mapping) for r in rows]


def db_rows(home: Path, sql: str, **params: object) -> list[dict[str, object]]:
    engine = create_engine(f"sqlite:///{sandbox_db(home)}")
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    engine.dispose()
    return [dict(r._mapping) for r in rows]


def link_json(*args: str) -> tuple[int, dict[str, object]]:
    code, out, err = cli("--json", "dunning", "link", *args)
    envelope = json.loads(out)
    assert envelope["exit_code"] == code, err
    return code, envelope["data"]


def test_link_twice_is_one_post_and_the_same_url(isolated_env: Path) -> None:
    code, first = link_json(SAHEL, "--yes")
    assert code == 0 and first["outcome"] == "created"
    url = str(first["authorization_url"])
    assert url.startswith("https://checkout.paystack.com/")
    assert first["amount"] == {"subunits": 15_000_000, "currency": "NGN", "formatted": "₦150,000.00"}
    reference = str(first["reference"])
    assert reference.startswith("LNK-") and not reference.startswith("DUN-")
    code, second = link_json(SAHEL, "--yes")
    assert code == 0 and second["outcome"] == "open"
    assert second["authorization_url"] == url and second["reference"] == reference
    rows = sim_rows(isolated_env, "LNK-%")
    assert len(rows) == 1 and rows[0]["status"] == "abandoned" and rows[0]["amount"] == 15_000_000
    # the metadata the app's checkout sends: its charge.success handler entitles the payment by it
    meta = json.loads(str(rows[0]["metadata"]))
    assert {meta["tier"], meta["billing_cycle"]} == {"professional", "monthly"}
    assert meta["organization_id"] == ORG_BY_SLUG["sahel"].id
    # the payment row now waits for the link (pending under its reference); automatic retries stop
    pay = db_rows(isolated_env, "SELECT status FROM payment_transactions WHERE reference = :r", r=reference)
    assert pay == [{"status": "pending"}]  # a payment row of its own, as the app's checkout records one
    failed = db_rows(isolated_env, "SELECT status FROM payment_transactions WHERE reference = 'PSK-FAILED-0002'")
    assert failed == [{"status": "failed"}]  # the failed renewal stays as it was
    assert record_of(isolated_env, SAHEL)["next_retry_at"] is None
    code, _, err = cli("dunning", "retry", SAHEL, "--yes")
    assert code == 4 and "payment link" in err and "twice" in err
    assert charges(isolated_env) == {}
    # human output: the URL on a line of its own, unbroken
    code, out, _ = cli("dunning", "link", SAHEL, "--yes")
    assert code == 0 and url in out.splitlines()
    code, _, _ = cli("audit", "verify")
    assert code == 0


def test_a_paid_link_is_reported_and_no_new_link_is_made(isolated_env: Path) -> None:
    code, first = link_json("nnamdi", "--email", "accounts@nnamdisons.ng", "--yes")
    assert code == 0 and first["email"] == "accounts@nnamdisons.ng"
    engine = create_engine(f"sqlite:///{sandbox_db(isolated_env)}")
    with engine.begin() as conn:  # the customer pays it
        conn.execute(text("UPDATE sim_transactions SET status = 'success' WHERE reference LIKE 'LNK-%'"))
    engine.dispose()
    code, again = link_json("nnamdi", "--yes")
    assert code == 0 and again["outcome"] == "paid" and again["authorization_url"] == first["authorization_url"]
    assert len(sim_rows(isolated_env, "LNK-%")) == 1
    assert record_of(isolated_env, "Nnamdi & Sons Hardware")["status"] == "recovered"  # through the guard
    code, _, err = cli("dunning", "link", "nnamdi", "--yes")
    assert code == 4 and "no active dunning record (latest: recovered)" in err
    code, _, _ = cli("audit", "verify")
    assert code == 0


def test_dry_run_shows_the_plan_and_sends_nothing(isolated_env: Path) -> None:
    code, out, err = cli("dunning", "link", SAHEL, "--dry-run")
    assert code == 0, err
    assert "POST /transaction/initialize" in out and "planned" in out
    assert sim_rows(isolated_env, "LNK-%") == []


@pytest.mark.parametrize("point", ["link:after_intent", "link:after_post", "link:after_record"])
def test_sigkill_at_each_point_then_rerun_is_one_transaction_and_the_same_link(isolated_env: Path, point: str) -> None:
    cli("dunning", "status", SAHEL)  # seeds the sandbox
    env = {**os.environ, "PROAUDIT_CRASH_AT": point}
    cmd = [sys.executable, "-m", "proaudit_ops", "--json", "dunning", "link", SAHEL, "--yes"]
    killed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert killed.returncode == -9, killed.stderr
    env.pop("PROAUDIT_CRASH_AT")
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    data = json.loads(rerun.stdout)["data"]
    assert data["outcome"] == ("open" if point == "link:after_record" else "resumed")
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(again.stdout)["data"]["authorization_url"] == data["authorization_url"]
    rows = sim_rows(isolated_env, "LNK-%")
    assert [r["reference"] for r in rows] == [data["reference"]]  # one transaction at Paystack
    verify = subprocess.run(
        [sys.executable, "-m", "proaudit_ops", "audit", "verify"], env=env, capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_lost_answer_exits_5_and_the_rerun_verifies_first(isolated_env: Path) -> None:
    cli("dunning", "status", SAHEL)  # seeds the sandbox
    engine = create_engine(f"sqlite:///{sandbox_db(isolated_env)}")
    script_fault(engine, "/transaction/initialize", "timeout", method="POST")  # nothing done, no answer
    code, _, err = cli("dunning", "link", SAHEL, "--yes")
    assert code == 5 and "unknown" in err
    code, data = link_json(SAHEL, "--yes")  # verified: unknown to Paystack, so initialized once
    assert code == 0 and data["outcome"] == "resumed" and data["reference"] == data["op_key"][5:]
    assert any("verified its reference at Paystack first" in str(n) for n in data["notes"])  # type: ignore[attr-defined]
    assert len(sim_rows(isolated_env, "LNK-%")) == 1
    engine.dispose()


def test_an_answer_lost_after_paystack_made_the_link_gets_a_new_reference(isolated_env: Path) -> None:
    cli("dunning", "status", "nnamdi")  # seeds the sandbox
    engine = create_engine(f"sqlite:///{sandbox_db(isolated_env)}")
    script_fault(engine, "/transaction/initialize", "drop", method="POST")  # made at Paystack, answer lost
    code, _, _ = cli("dunning", "link", "nnamdi", "--yes")
    assert code == 5
    engine.dispose()
    code, out, err = cli("dunning", "link", "nnamdi", "--yes")
    assert code == 0, err
    assert "never arrived" in out  # nobody saw the first URL: nobody can pay it
    refs = sorted(str(r["reference"]) for r in sim_rows(isolated_env, "LNK-%"))
    assert len(refs) == 2 and refs[1] == refs[0] + "-2"
    code, again = link_json("nnamdi", "--yes")
    assert again["outcome"] == "open" and again["reference"] == refs[1]
    assert len(sim_rows(isolated_env, "LNK-%")) == 2


def test_refused_without_an_active_record_and_in_maintenance(isolated_env: Path) -> None:
    code, _, err = cli("dunning", "link", "Obi Motors", "--yes")
    assert code == 4 and "no active dunning record" in err
    code, _, err = cli("recovery", "maintenance", "on", "--message", "db work", "--ttl", "10m", "--yes")
    assert code == 0, err
    code, _, err = cli("dunning", "link", SAHEL, "--yes")
    assert code == 4 and "maintenance" in err
    assert sim_rows(isolated_env, "LNK-%") == []
    code, _, err = cli("dunning", "link", SAHEL, "--yes", "--force")
    assert code == 0, err


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "x" * 250 + "@b.ng", "a b@c.ng", ""])
def test_a_bad_email_is_exit_2_and_changes_nothing(isolated_env: Path, email: str) -> None:
    cli("dunning", "status", SAHEL)  # seeds the sandbox
    before = record_of(isolated_env, SAHEL)
    code, _, err = cli("dunning", "link", SAHEL, "--email", email, "--yes")
    assert code == 2 and "--email" in err
    assert record_of(isolated_env, SAHEL) == before
    assert sim_rows(isolated_env, "LNK-%") == []
    assert db_rows(isolated_env, "SELECT op_key FROM ops_intents") == []


def test_the_regulated_card_seed_waits_24_hours(isolated_env: Path) -> None:
    code, out, _ = cli("dunning", "retry", KANO, "--yes")
    assert code == 1 and REGULATED_ANSWER in out
    rec = record_of(isolated_env, KANO)
    assert rec["last_failure_reason"] == REGULATED_ANSWER and rec["attempt_count"] == 2
    retry_at = datetime.fromisoformat(str(rec["next_retry_at"]))
    engine = create_engine(f"sqlite:///{sandbox_db(isolated_env)}")
    with engine.connect() as conn:
        attempted = conn.execute(
            text("SELECT created_at FROM sim_transactions WHERE reference LIKE 'DUN-%'")
        ).scalar_one()
    engine.dispose()
    gap = retry_at.replace(tzinfo=None) - datetime.fromisoformat(str(attempted)).replace(tzinfo=None)
    assert timedelta(hours=23, minutes=59) < gap < timedelta(hours=24, minutes=1)
    code, _, err = cli("dunning", "retry", KANO, "--yes")
    assert code == 4 and "regulated" in err
    assert list(charges(isolated_env).values()) == [1]


def test_the_2fa_seed_pauses_with_its_url_and_is_never_charged_twice(isolated_env: Path) -> None:
    code, out, _ = cli("dunning", "retry", ENUGU, "--yes")
    assert code == 1 and "paused" in out
    urls = [line for line in out.splitlines() if line.startswith("https://checkout.paystack.com/resume/")]
    assert len(urls) == 1
    rec = record_of(isolated_env, ENUGU)
    assert rec["status"] == "active" and rec["next_retry_at"] is None and "2FA" in str(rec["last_failure_reason"])
    code, _, err = cli("dunning", "retry", ENUGU, "--yes")
    assert code == 4 and "2FA" in err
    code, _, err = cli("dunning", "link", ENUGU, "--yes")  # the customer may still approve the charge
    assert code == 4 and urls[0] in err
    assert list(charges(isolated_env).values()) == [1]
    assert [r["status"] for r in sim_rows(isolated_env, "DUN-%")] == ["ongoing"]
    code, out, _ = cli("dunning", "status", ENUGU)
    assert code == 1 and urls[0] in out


def test_sigkill_after_a_paused_charge_then_rerun_keeps_its_url_and_charges_once(isolated_env: Path) -> None:
    cli("dunning", "status", ENUGU)  # seeds the sandbox
    env = {**os.environ, "PROAUDIT_CRASH_AT": "charge:after_post"}
    cmd = [sys.executable, "-m", "proaudit_ops", "dunning", "retry", ENUGU, "--yes"]
    killed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert killed.returncode == -9, killed.stderr
    env.pop("PROAUDIT_CRASH_AT")
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 1, rerun.stderr  # resumed: verified, adopted as paused, still owed
    assert [line for line in rerun.stdout.splitlines() if line.startswith("https://checkout.paystack.com/resume/")]
    assert list(charges(isolated_env).values()) == [1]
    rec = record_of(isolated_env, ENUGU)
    assert rec["next_retry_at"] is None and "2FA" in str(rec["last_failure_reason"])
