"""Issue 7's "done when" for entitlement, through the command line, on the sandbox and on PostgreSQL:
a fixed payment leaves its customer entitled, a paid-but-not-entitled customer is a finding with its fix,
and a replay says what the app answered and whether the customer is now covered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, update

from proaudit_ops.db.schema import payment_transactions
from proaudit_ops.timeutil import parse_iso, utcnow


def coverage(proaudit: Any, reference: str) -> dict[str, Any]:
    shown = proaudit("--json", "payments", "show", reference)
    assert shown.exit_code == 0, shown.stderr
    return shown.json()["data"]["coverage"]  # type: ignore[no-any-return]


def covers_today(cov: dict[str, Any]) -> bool:
    return bool(cov["entitled"]) and parse_iso(cov["current_period_end"]) > utcnow()


def fixed_the_old_way(engine: Engine, reference: str) -> None:
    """What a fix before issue 7 (or the runbook's hand-typed UPDATE) did: the payment row only."""
    with engine.begin() as conn:
        conn.execute(
            update(payment_transactions)
            .where(payment_transactions.c.reference == reference)
            .values(status="success", paid_at=utcnow().replace(microsecond=0))
        )


def done_when(proaudit: Any) -> None:
    """The issue's sequence: fix, show, verify, then the replay says "already applied" and the customer is covered."""
    before = coverage(proaudit, "PSK-STUCK-0001")
    assert before["entitled"] is None  # pending: it buys nothing yet
    assert before["subscription_state"] == "past_due"
    fixed = proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--yes")
    assert fixed.exit_code == 0, fixed.stderr
    assert "subscription now: entitled" in fixed.stdout
    after = coverage(proaudit, "PSK-STUCK-0001")
    assert covers_today(after), after
    assert (after["tier"], after["billing_cycle"], after["source"]) == ("professional", "monthly", "metadata")
    assert proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 0
    replayed = proaudit("webhooks", "replay", "PSK-STUCK-0001", "--yes")
    assert replayed.exit_code == 0, replayed.stderr
    assert "the app answered: already applied (payment is success)" in replayed.stdout
    assert "subscription now: entitled" in replayed.stdout
    data = proaudit("--json", "webhooks", "replay", "PSK-STUCK-0001", "--yes").json()["data"]
    assert (data["answer"], data["entitlement"]["status"]) == ("already_applied", "entitled")
    assert coverage(proaudit, "PSK-STUCK-0001") == after  # the replay changed nothing
    assert proaudit("audit", "verify").exit_code == 0


def test_done_when_on_the_sandbox(proaudit) -> None:
    done_when(proaudit)


@pytest.mark.postgres
def test_done_when_on_postgresql(pg_proaudit) -> None:
    done_when(pg_proaudit)


def paid_not_entitled(proaudit: Any, engine: Engine) -> None:
    """The issue's complaint: paid, no access, and nothing said so. Now verify and gaps say it, and --fix fixes it."""
    fixed_the_old_way(engine, "PSK-STUCK-0001")
    found = proaudit("--json", "payments", "verify", "PSK-STUCK-0001")
    assert found.exit_code == 1
    data = found.json()["data"]
    assert data["diagnosis"] == "paid_not_entitled" and data["fixable"] is True
    assert data["next_step"].startswith("proaudit payments verify PSK-STUCK-0001 --fix")
    assert data["entitlement"]["status"] == "not_entitled"
    human = proaudit("payments", "verify", "PSK-STUCK-0001")
    assert "paid_not_entitled" in human.stdout and "subscription: NOT entitled" in human.stdout

    gaps = proaudit("--json", "webhooks", "gaps", "--since", "24h")
    assert gaps.exit_code == 1
    short = {n["reference"]: n["next_step"] for n in gaps.json()["data"]["not_entitled"]}
    assert short == {"PSK-STUCK-0001": "proaudit payments verify PSK-STUCK-0001 --fix"}

    # A replay cannot fix it: the app deduplicates. The tool now says so instead of "delivered" and exit 0.
    replayed = proaudit("webhooks", "replay", "PSK-STUCK-0001", "--yes")
    assert replayed.exit_code == 1, replayed.stderr
    assert "already applied (payment is success)" in replayed.stdout
    assert "subscription now: NOT entitled" in replayed.stdout
    assert "next: proaudit payments verify PSK-STUCK-0001 --fix" in replayed.stdout

    plan = proaudit("--json", "payments", "verify", "PSK-STUCK-0001", "--fix", "--dry-run").json()["data"]
    assert [c["table"] for c in plan["guard"]["plan"]["changes"]] == ["tenant_skus"]
    fixed = proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--yes")
    assert fixed.exit_code == 0, fixed.stderr
    assert covers_today(coverage(proaudit, "PSK-STUCK-0001"))
    assert proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 0
    assert proaudit("--json", "webhooks", "gaps", "--since", "24h").json()["data"]["not_entitled"] == []


def test_paid_not_entitled_on_the_sandbox(proaudit, isolated_env: Path) -> None:
    from proaudit_ops.sandbox.home import ensure_sandbox

    engine = ensure_sandbox(isolated_env / "sandbox.db")
    try:
        paid_not_entitled(proaudit, engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_paid_not_entitled_on_postgresql(pg_proaudit, pg_engine: Engine) -> None:
    paid_not_entitled(pg_proaudit, pg_engine)


def test_stuck_fix_entitles_every_organization_it_settles(proaudit) -> None:
    ran = proaudit("--json", "payments", "stuck", "--fix", "--yes")
    assert ran.exit_code == 1, ran.stderr  # PSK-GHOST-0001 is left for a human
    data = ran.json()["data"]
    assert set(data["fixed"]) == {"PSK-STUCK-0001", "PSK-STUCK-0002", "PSK-STUCK-0003", "PSK-ABANDONED-0001"}
    assert len(data["entitled"]) == 3  # bluewave (past due), kora (trial), obi (cancelled): one row each
    for reference in ("PSK-STUCK-0001", "PSK-STUCK-0002", "PSK-STUCK-0003"):
        assert covers_today(coverage(proaudit, reference)), reference
        assert proaudit("payments", "verify", reference).exit_code == 0
    again = proaudit("--json", "payments", "stuck", "--fix", "--yes").json()["data"]
    assert (again["fix_outcome"], again["entitled"]) == ("nothing", [])


def test_show_says_why_it_could_not_ask_paystack(proaudit) -> None:
    proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--yes")
    ran = proaudit(
        "--json",
        "payments",
        "show",
        "PSK-STUCK-0001",
        env={"PROAUDIT_SIM_ERROR_RATE": "1", "PAYSTACK_MAX_RETRIES": "0"},
    )
    assert ran.exit_code == 0, ran.stderr  # show stays usable while Paystack is down
    data = ran.json()["data"]
    assert data["coverage"]["source"] == "tenant_sku"  # the contract's fallback, and it says so
    assert data["coverage_note"].startswith("no metadata from Paystack")
