"""Issue 3's "done when", through the command line: fixes, stuck, status, show, saved plans."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_fix_stuck_then_consistent_then_audit_verifies(proaudit) -> None:
    fixed = proaudit("--json", "payments", "verify", "PSK-STUCK-0001", "--fix", "--yes")
    assert fixed.exit_code == 0, fixed.stderr
    data = fixed.json()["data"]
    assert data["outcome"] == "applied"
    changed = data["guard"]["rows"][0]
    assert changed["status"] == "success"
    # paid_at is Paystack's, not now
    assert changed["paid_at"] == data["verify"]["paystack"]["paid_at"]
    again = proaudit("--json", "payments", "verify", "PSK-STUCK-0001")
    assert again.exit_code == 0
    assert again.json()["data"]["diagnosis"] == "consistent"
    assert proaudit("audit", "verify").exit_code == 0
    records = proaudit("--json", "audit", "log", "--target", "PSK-STUCK-0001").json()["data"]["records"]
    assert [r["outcome"] for r in records] == ["applied"]


def test_fix_abandoned_takes_paystacks_status(proaudit) -> None:
    ran = proaudit("--json", "payments", "verify", "PSK-ABANDONED-0001", "--fix", "--yes")
    assert ran.exit_code == 0
    assert ran.json()["data"]["guard"]["rows"][0]["status"] == "abandoned"


@pytest.mark.parametrize("reference", ["PSK-AMOUNT-0001", "PSK-CURRENCY-0001", "PSK-GHOST-0001"])
def test_mismatches_are_never_auto_fixed(proaudit, reference: str) -> None:
    ran = proaudit("--json", "payments", "verify", reference, "--fix", "--yes")
    assert ran.exit_code == 1
    assert ran.json()["data"]["outcome"] == "not_fixable"
    assert proaudit("--json", "audit", "log").json()["data"]["records"] == []


def test_dry_run_changes_nothing_and_is_audited_as_planned(proaudit) -> None:
    ran = proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--dry-run", "--show-sql")
    assert ran.exit_code == 0
    assert "UPDATE payment_transactions" in ran.stdout
    assert "status = pending" in ran.stdout or "status='pending'" in ran.stdout.replace(" ", "")
    assert proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 1  # still stuck
    outcomes = [r["outcome"] for r in proaudit("--json", "audit", "log").json()["data"]["records"]]
    assert outcomes == ["planned"]


def test_no_tty_and_no_yes_is_refused(proaudit) -> None:
    ran = proaudit("payments", "verify", "PSK-STUCK-0001", "--fix")
    assert ran.exit_code == 4
    assert "--yes" in ran.stderr
    assert proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 1
    outcomes = [r["outcome"] for r in proaudit("--json", "audit", "log").json()["data"]["records"]]
    assert outcomes == ["refused"]


def test_live_key_requires_live(proaudit, tmp_path: Path) -> None:
    from proaudit_ops.sandbox.home import ensure_sandbox

    db = tmp_path / "billing.db"
    ensure_sandbox(db).dispose()
    env = {
        "PAYSTACK_SECRET_KEY": "sk_live_FAKEcanary01",
        "DATABASE_URL": f"sqlite+pysqlite:///{db}",
        "PROAUDIT_PAYSTACK_SIMULATOR": "true",
        "PROAUDIT_HOME": str(tmp_path),
    }
    refused = proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--yes", env=env)
    assert refused.exit_code == 4
    assert "--live" in refused.stderr
    applied = proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--yes", "--live", env=env)
    assert applied.exit_code == 0, applied.stderr


def test_stuck_verify_fix_fixes_every_fixable_one_in_one_plan(proaudit) -> None:
    listed = proaudit("--json", "payments", "stuck")
    assert listed.exit_code == 1
    pending = {i["reference"] for i in listed.json()["data"]["items"]}
    assert {
        "PSK-STUCK-0001",
        "PSK-STUCK-0002",
        "PSK-STUCK-0003",
        "PSK-ABANDONED-0001",
        "PSK-GHOST-0001",
    } <= pending
    assert "PSK-PENDING-0001" not in pending  # younger than 15 minutes

    verified = proaudit("--json", "payments", "stuck", "--verify").json()["data"]
    fixable = {i["reference"] for i in verified["items"] if i["diagnosis"] in ("stuck", "not_paid")}
    assert {"PSK-STUCK-0001", "PSK-STUCK-0002", "PSK-STUCK-0003", "PSK-ABANDONED-0001"} <= fixable

    fixed = proaudit("--json", "payments", "stuck", "--verify", "--fix", "--yes")
    data = fixed.json()["data"]
    assert data["fix_outcome"] == "applied"
    assert set(data["fixed"]) == fixable
    assert data["guard"]["plan"]["target"] == "bulk"
    records = proaudit("--json", "audit", "log").json()["data"]["records"]
    assert [r["outcome"] for r in records] == ["applied"]  # one plan, one record
    # the others are still reported, and a second run has nothing left to fix
    assert fixed.exit_code == 1  # PSK-GHOST-0001 (unknown to Paystack) remains for a human
    second = proaudit("--json", "payments", "stuck", "--verify", "--fix", "--yes").json()["data"]
    assert second["fix_outcome"] == "nothing"
    assert "PSK-GHOST-0001" in {i["reference"] for i in second["items"]}


def test_bulk_prompt_needs_the_row_count(proaudit, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("proaudit_ops.cli.mutation.is_interactive", lambda: True)
    declined = proaudit("payments", "stuck", "--fix", input="y\n")
    assert declined.exit_code == 4
    assert "Type" in declined.stderr
    assert proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 1
    count = len(
        [
            i
            for i in proaudit("--json", "payments", "stuck", "--verify").json()["data"]["items"]
            if i["diagnosis"] in ("stuck", "not_paid")
        ]
    )
    accepted = proaudit("payments", "stuck", "--fix", input=f"{count}\n")
    assert accepted.exit_code in (0, 1), accepted.stderr
    assert proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 0


def test_saved_plan_applies_once_and_stale_is_refused(proaudit, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    saved = proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--plan-out", str(plan))
    assert saved.exit_code == 0
    assert plan.exists()
    assert proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 1  # not applied yet
    applied = proaudit("apply", str(plan), "--yes")
    assert applied.exit_code == 0, applied.stderr
    assert proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 0
    again = proaudit("apply", str(plan), "--yes")
    assert again.exit_code == 4
    assert "stale" in again.stderr


def test_status_counts_and_thresholds(proaudit) -> None:
    ran = proaudit("--json", "payments", "status", "--since", "30d")
    data = ran.json()["data"]
    assert data["total"] == sum(data["counts"].values()) > 0
    decided = data["total"] - data["counts"].get("pending", 0)
    assert data["success_rate_pct"] == pytest.approx(100 * data["counts"]["success"] / decided, abs=0.01)
    assert ran.exit_code == (1 if data["level"] in ("warning", "critical") else 0)
    strict = proaudit(
        "--json",
        "payments",
        "status",
        "--since",
        "30d",
        env={
            "PROAUDIT_SUCCESS_RATE_CRITICAL_PCT": "100",
            "PROAUDIT_SUCCESS_RATE_WARNING_PCT": "100",
        },
    )
    assert strict.json()["data"]["level"] == "critical"
    assert strict.exit_code == 1
    assert proaudit("payments", "status", "--since", "soon").exit_code == 2


def test_show_has_org_subscription_and_audit_trail(proaudit) -> None:
    proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--yes")
    data = proaudit("--json", "payments", "show", "PSK-STUCK-0001").json()["data"]
    assert data["payment"]["reference"] == "PSK-STUCK-0001"
    assert data["organization"]["id"] == data["payment"]["organization_id"]
    assert data["subscription"]["organization_id"] == data["payment"]["organization_id"]
    assert [r["outcome"] for r in data["audit"]] == ["applied"]
    missing = proaudit("payments", "show", "PSK-NOPE-0001")
    assert missing.exit_code == 2


@pytest.mark.postgres
def test_fix_on_postgres(pg_proaudit) -> None:
    assert pg_proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--yes").exit_code == 0
    assert pg_proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 0
    assert pg_proaudit("audit", "verify").exit_code == 0


def test_stuck_age_comes_from_the_flag_then_the_setting(proaudit) -> None:
    default = {i["reference"] for i in proaudit("--json", "payments", "stuck").json()["data"]["items"]}
    assert "PSK-PENDING-0001" not in default  # 5 minutes old, under the 15m default
    configured = proaudit("--json", "payments", "stuck", env={"PROAUDIT_STUCK_OLDER_THAN": "1m"}).json()["data"]
    assert "PSK-PENDING-0001" in {i["reference"] for i in configured["items"]}
    flagged = proaudit("--json", "payments", "stuck", "--older-than", "3h", env={"PROAUDIT_STUCK_OLDER_THAN": "1m"})
    assert flagged.json()["data"]["older_than_minutes"] == 180
    assert proaudit("payments", "stuck", env={"PROAUDIT_STUCK_OLDER_THAN": "soonish"}).exit_code == 2


def test_fixed_by_someone_else_meanwhile_is_nothing_to_do(proaudit, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import update

    from proaudit_ops.core.payments import fix
    from proaudit_ops.db.schema import payment_transactions as pt

    real = fix.verify_payment

    def verify_then_the_app_settles_it(runtime, reference):  # type: ignore[no-untyped-def]
        result = real(runtime, reference)
        with runtime.engine().begin() as conn:  # the app processes the late webhook meanwhile
            conn.execute(update(pt).where(pt.c.reference == reference).values(status="success"))
        return result

    monkeypatch.setattr(fix, "verify_payment", verify_then_the_app_settles_it)
    ran = proaudit("--json", "payments", "verify", "PSK-STUCK-0001", "--fix", "--yes")
    assert ran.exit_code == 0, ran.stderr
    assert ran.json()["data"]["outcome"] == "nothing"
    assert proaudit("--json", "audit", "log").json()["data"]["records"] == []
