"""`proaudit refunds ...` and `proaudit approve` on the sandbox: the seeded refund cases, amounts,
idempotent reruns, the two-person rule, saved plans through the intent protocol, a lost answer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from proaudit_fixtures import Invoke

ELIGIBLE = "PSK-ELIGIBLE-0001"


@pytest.mark.parametrize(
    ("reference", "code", "says"),
    [
        (ELIGIBLE, 0, "refundable: 15000000 kobo = ₦150,000.00"),
        ("PSK-LATE-0001", 1, "outside the 30-day refund window"),
        ("PSK-PSREFUNDED-0001", 1, "refunded at Paystack but not recorded here"),
        ("PSK-PARTIAL-0001", 0, "refundable: 10000000 kobo = ₦100,000.00"),
        ("PSK-REFUNDED-0001", 1, "already refunded in full here"),
        ("PSK-STUCK-0001", 1, "not paid: the payment is pending"),
    ],
)
def test_check_the_seeded_cases(proaudit: Invoke, reference: str, code: int, says: str) -> None:
    ran = proaudit("refunds", "check", reference)
    assert ran.exit_code == code, ran.stderr
    assert says in ran.stdout


def test_check_json_and_not_found(proaudit: Invoke) -> None:
    ran = proaudit("--json", "refunds", "check", "PSK-LATE-0001")
    assert ran.exit_code == 1
    data = ran.json()["data"]
    assert data["refundable"] == 150_000_000 and len(data["reasons"]) == 1
    assert proaudit("refunds", "check", "PSK-NOPE-0001").exit_code == 2


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-5,000.00", "negative"),
        ("0", "zero"),
        ("150,000.01", "more than the refundable"),
        ("5000 USD", "in USD, not NGN"),
        ("5,000.005", "more than two decimals"),
    ],
)
def test_bad_amounts_exit_2_and_change_nothing(proaudit: Invoke, amount: str, message: str) -> None:
    ran = proaudit("refunds", "issue", ELIGIBLE, "--amount", amount, "--reason", "r", "--yes")
    assert ran.exit_code == 2, ran.stderr
    assert message in ran.stderr
    assert proaudit("--json", "refunds", "list").json()["data"]["items"] == []


@pytest.mark.parametrize("amount", ["150000", "₦150,000.00", "150000 NGN", "150,000.00"])
def test_amount_forms_are_the_full_amount(proaudit: Invoke, amount: str) -> None:
    ran = proaudit("--json", "refunds", "issue", ELIGIBLE, "--amount", amount, "--reason", "r", "--dry-run")
    assert ran.exit_code == 0, ran.stderr
    assert ran.json()["data"]["amount"] == 15_000_000


def test_the_plan_shows_the_paystack_call_before_the_prompt(proaudit: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    import proaudit_ops.cli.mutation

    monkeypatch.setattr(proaudit_ops.cli.mutation, "is_interactive", lambda: True)
    args = ("refunds", "issue", ELIGIBLE, "--amount", "5,000.00", "--reason", "r", "--downgrade", "core")
    ran = proaudit(*args, input="n\n")
    assert ran.exit_code == 4, ran.stderr  # not confirmed: aborted, nothing sent
    shown = ran.stderr  # the plan goes where the question goes (stdout is not a terminal here)
    assert "POST /refund transaction=" in shown and "amount=500000 kobo = ₦5,000.00" in shown
    assert "refund_amount_kobo" in shown and "tier" in shown and "Type 2 to apply" in shown
    assert proaudit("--json", "refunds", "list").json()["data"]["items"] == []


def test_partial_refunds_add_up_and_a_second_identical_issue_sends_nothing(proaudit: Invoke) -> None:
    first = proaudit("refunds", "issue", ELIGIBLE, "--amount", "5,000.00", "--reason", "partial", "--yes")
    assert first.exit_code == 0, first.stderr
    again = proaudit("refunds", "issue", ELIGIBLE, "--amount", "5,000.00", "--reason", "partial", "--yes")
    assert again.exit_code == 4 and "already refunded" in again.stderr
    more = proaudit("refunds", "issue", ELIGIBLE, "--amount-kobo", "500000", "--another", "--reason", "p2", "--yes")
    assert more.exit_code == 0, more.stderr
    status = proaudit("--json", "refunds", "status", ELIGIBLE).json()["data"]
    assert [r["amount"] for r in status["paystack"]] == [500_000, 500_000]
    assert status["payment"]["refund_amount_kobo"] == 1_000_000 and status["payment"]["status"] == "success"
    rest = proaudit("refunds", "issue", ELIGIBLE, "--reason", "the rest", "--cancel-at-period-end", "--yes")
    assert rest.exit_code == 0, rest.stderr
    payment = proaudit("--json", "refunds", "status", ELIGIBLE).json()["data"]["payment"]
    assert payment["status"] == "refunded" and payment["refund_amount_kobo"] == 15_000_000
    show = proaudit("--json", "subscriptions", "show", ELIGIBLE).json()["data"]
    assert show["subscription"]["cancel_at_period_end"] is True
    assert proaudit("refunds", "check", ELIGIBLE).exit_code == 1
    over = proaudit("refunds", "issue", ELIGIBLE, "--amount-kobo", "1", "--reason", "r", "--yes")
    assert over.exit_code == 4  # nothing left: not eligible
    records = proaudit("--json", "audit", "log").json()["data"]["records"]
    applied = [r for r in records if r["action"] == "refunds.issue" and r["outcome"] == "applied"]
    assert len(applied) == 3 and all(r["external_ids"]["paystack_refund_id"] for r in applied)
    assert proaudit("audit", "verify").exit_code == 0


def test_two_person_rule(proaudit: Invoke, tmp_path: Path) -> None:
    plan = tmp_path / "refund.json"
    env = {"PROAUDIT_REFUND_APPROVAL_ABOVE": "1000000", "PROAUDIT_OPERATOR": "alice"}
    args = ("refunds", "issue", ELIGIBLE, "--reason", "large")
    direct = proaudit(*args, "--yes", env=env)
    assert direct.exit_code == 2 and "--plan-out" in direct.stderr
    assert proaudit(*args, "--plan-out", str(plan), env=env).exit_code == 0
    assert proaudit("approve", str(plan), env=env).exit_code == 4  # alice approving her own plan
    unapproved = proaudit("apply", str(plan), "--yes", env={**env, "PROAUDIT_OPERATOR": "carol"})
    assert unapproved.exit_code == 4 and "approval" in unapproved.stderr
    approved = proaudit("approve", str(plan), env={**env, "PROAUDIT_OPERATOR": "bob"})
    assert approved.exit_code == 0, approved.stderr
    assert "planned by alice" in approved.stdout and "approved by bob" in approved.stdout
    applied = proaudit("apply", str(plan), "--yes", env={**env, "PROAUDIT_OPERATOR": "carol"})
    assert applied.exit_code == 0, applied.stderr
    status = proaudit("--json", "refunds", "status", ELIGIBLE).json()["data"]
    assert len(status["paystack"]) == 1 and status["payment"]["status"] == "refunded"
    twice = proaudit("apply", str(plan), "--yes", env={**env, "PROAUDIT_OPERATOR": "carol"})
    assert twice.exit_code == 4  # the row changed since (and the intent is done): no second refund
    assert len(proaudit("--json", "refunds", "status", ELIGIBLE).json()["data"]["paystack"]) == 1
    records = proaudit("--json", "audit", "log").json()["data"]["records"]
    approval = [r for r in records if r["action"] == "approve" and r["outcome"] == "applied"]
    assert len(approval) == 1


def test_a_saved_plan_below_the_threshold_runs_through_the_intent(proaudit: Invoke, tmp_path: Path) -> None:
    plan = tmp_path / "refund.json"
    ran = proaudit("refunds", "issue", ELIGIBLE, "--amount", "1,000.00", "--reason", "r", "--plan-out", str(plan))
    assert ran.exit_code == 0, ran.stderr
    assert proaudit("approve", str(plan), env={"PROAUDIT_OPERATOR": "bob"}).exit_code == 4  # needs none
    applied = proaudit("apply", str(plan), "--yes")
    assert applied.exit_code == 0, applied.stderr
    items = proaudit("--json", "refunds", "list").json()["data"]["items"]
    assert [(i["intent"]["state"], i["reference"]) for i in items] == [("done", ELIGIBLE)]


def test_a_lost_answer_exits_5_and_resume_adopts_it(proaudit: Invoke, isolated_env: Path) -> None:
    from proaudit_ops.db.engine import make_engine
    from proaudit_ops.sandbox.faults import script_fault
    from proaudit_ops.sandbox.home import ensure_sandbox, sandbox_url

    ensure_sandbox(isolated_env / "sandbox.db").dispose()
    engine = make_engine(sandbox_url(isolated_env / "sandbox.db"))
    try:
        script_fault(engine, "/refund", "drop", method="POST")
    finally:
        engine.dispose()
    lost = proaudit("refunds", "issue", ELIGIBLE, "--reason", "r", "--yes")
    assert lost.exit_code == 5, lost.stderr
    assert "proaudit refunds resume refund:" in lost.stderr
    assert proaudit("refunds", "check", ELIGIBLE).exit_code == 1  # in progress: blocks another refund
    resumed = proaudit("refunds", "resume")
    assert resumed.exit_code == 0 and "no POST" in resumed.stdout
    status = proaudit("--json", "refunds", "status", ELIGIBLE).json()["data"]
    assert len(status["paystack"]) == 1 and status["intents"][0]["state"] == "done"
    records = proaudit("--json", "audit", "log").json()["data"]["records"]
    assert [r["outcome"] for r in records if r["action"] == "refunds.issue"][-2:] in (
        ["unknown", "applied"],
        ["applied", "unknown"],
    )


def test_status_by_refund_id_and_resume_with_nothing_open(proaudit: Invoke) -> None:
    status = proaudit("--json", "refunds", "status", "PSK-PARTIAL-0001").json()["data"]
    refund_id = str(status["paystack"][0]["id"])
    by_id = proaudit("refunds", "status", refund_id)
    assert by_id.exit_code == 0 and "recorded on the payment" in by_id.stdout
    assert "nothing to resume" in proaudit("refunds", "resume").stdout


def test_simulator_refunds_are_pending_then_processed(isolated_env: Path) -> None:
    import httpx

    from proaudit_ops.db.engine import make_engine
    from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY
    from proaudit_ops.sandbox.home import ensure_sandbox, sandbox_url
    from proaudit_ops.sandbox.sim_refunds import PROCESSING_AFTER, advance_pending
    from proaudit_ops.sandbox.transport import simulator_transport
    from proaudit_ops.timeutil import utcnow

    ensure_sandbox(isolated_env / "sandbox.db").dispose()
    engine = make_engine(sandbox_url(isolated_env / "sandbox.db"))
    headers = {"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}
    try:
        with httpx.Client(
            transport=simulator_transport(engine), base_url="https://api.paystack.co", headers=headers
        ) as c:
            created = c.post("/refund", json={"transaction": ELIGIBLE, "amount": 100_000}).json()["data"]
            assert created["status"] == "pending"
            assert created["customer_note"] == f"Refund for transaction {ELIGIBLE}"
            assert c.get(f"/refund/{created['id']}").json()["data"]["status"] == "pending"
            assert advance_pending(engine, utcnow() + PROCESSING_AFTER + timedelta(seconds=1)) == 1
            fetched = c.get(f"/refund/{created['id']}").json()["data"]
            assert fetched["status"] == "processed" and fetched["refunded_at"] is not None
    finally:
        engine.dispose()
