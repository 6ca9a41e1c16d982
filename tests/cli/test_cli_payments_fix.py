"""Issue 3's "done when", through the command line: fixes, stuck, status, show, saved plans."""

from __future__ import annotations

import re
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
    # The rows of the plan: each settled payment, and the subscription of each organization it entitles.
    planned = proaudit("--json", "payments", "stuck", "--fix", "--dry-run").json()["data"]["guard"]["plan"]
    count = len(planned["changes"])
    assert {c["table"] for c in planned["changes"]} == {"payment_transactions", "tenant_skus"}
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


# -- issue 11: saved plans, row counts, timeouts, the live guard -------------------------------


def _sandbox_engine(home: Path):  # type: ignore[no-untyped-def]
    from proaudit_ops.db.engine import make_engine

    return make_engine(f"sqlite+pysqlite:///{home / 'sandbox.db'}")


def _outside_update(home: Path, reference: str, **values: object) -> None:
    """What the billing app (or another operator) does between plan and apply."""
    from sqlalchemy import update

    from proaudit_ops.db.schema import payment_transactions as pt

    engine = _sandbox_engine(home)
    with engine.begin() as conn:
        conn.execute(update(pt).where(pt.c.reference == reference).values(**values))
    engine.dispose()


def _forge(path: Path, edit, key: bytes | None = None) -> None:  # type: ignore[no-untyped-def]
    """Edit a saved plan and recompute what a forger can: the plain SHA-256 (and, given the key, the MAC)."""
    import hashlib
    import hmac
    import json

    from proaudit_ops.audit.canonical import canonical_json

    data = json.loads(path.read_text())
    edit(data)
    if "plan_mac" in data:  # format 2: the hash covers the reviewed content
        reviewed = {k: v for k, v in data.items() if k not in ("plan_hash", "plan_mac", "created_at", "expected_rows")}
        data["plan_hash"] = hashlib.sha256(canonical_json(reviewed).encode()).hexdigest()
        if key is not None:
            message = b"proaudit plan v2\n" + canonical_json(reviewed).encode()
            data["plan_mac"] = hmac.new(key, message, hashlib.sha256).hexdigest()
    else:  # format 1: the hash covered everything else in the file
        data["plan_hash"] = hashlib.sha256(
            canonical_json({k: v for k, v in data.items() if k != "plan_hash"}).encode()
        ).hexdigest()
    path.write_text(json.dumps(data, indent=2))


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        ({"amount_kobo": 1}, r"\(amount_kobo: \d+ -> 1\)"),
        ({"refund_reference": "x"}, r"\(refund_reference: NULL -> 'x'\)"),
    ],
)
def test_saved_plan_is_stale_when_any_column_changed(
    proaudit, isolated_env: Path, tmp_path: Path, values: dict[str, object], shown: str
) -> None:
    import re

    plan = tmp_path / "p.json"
    assert proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--plan-out", str(plan)).exit_code == 0
    _outside_update(isolated_env, "PSK-STUCK-0001", **values)
    applied = proaudit("apply", str(plan), "--yes")
    assert applied.exit_code == 4, applied.stderr
    assert "stale plan" in applied.stderr
    assert re.search(shown, applied.stderr), applied.stderr
    assert proaudit("--json", "payments", "verify", "PSK-STUCK-0001").json()["data"]["database"]["status"] == "pending"


def test_re_hashed_plan_is_refused(proaudit, tmp_path: Path) -> None:
    plan = tmp_path / "p.json"
    assert proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--plan-out", str(plan)).exit_code == 0

    def to_failed(data: dict) -> None:  # type: ignore[type-arg]
        data["changes"][0]["new_values"]["status"] = "failed"

    _forge(plan, to_failed)
    applied = proaudit("apply", str(plan), "--yes")
    assert applied.exit_code == 4, applied.stderr
    assert "not authenticated" in applied.stderr
    errors = [line for line in applied.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and len(applied.stderr.strip().splitlines()) <= 2  # a sandbox banner, one error line
    assert "Traceback" not in applied.stderr
    assert proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 1  # still stuck, unchanged
    records = proaudit("--json", "audit", "log").json()["data"]["records"]
    assert [r["outcome"] for r in records] == ["planned", "refused"]


def test_two_plans_of_the_same_fix_have_the_same_hash(proaudit, tmp_path: Path) -> None:
    import json

    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for path in (first, second):
        assert proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--plan-out", str(path)).exit_code == 0
    a, b = json.loads(first.read_text()), json.loads(second.read_text())
    assert a["plan_hash"] == b["plan_hash"]
    assert a["plan_mac"] == b["plan_mac"]
    assert "updated_at" not in a["changes"][0]["new_values"]
    assert a["changes"][0]["touch"] == ["updated_at"]
    shown = proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--dry-run")
    assert re.search(r"updated_at .* now", shown.stdout), shown.stdout
    # and the touched column is set at apply
    applied = proaudit("--json", "apply", str(first), "--yes")
    assert applied.exit_code == 0, applied.stderr
    row = applied.json()["data"]["guard"]["rows"][0]
    assert row["updated_at"] > a["changes"][0]["before"]["updated_at"]


def test_json_dry_runs_show_the_same_hash_as_the_saved_plan(proaudit, tmp_path: Path) -> None:
    import json

    shown = [
        proaudit("--json", "payments", "verify", "PSK-STUCK-0001", "--fix", "--dry-run").json()["data"]["guard"]["plan"]
        for _ in range(2)
    ]
    saved = tmp_path / "p.json"
    assert proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--plan-out", str(saved)).exit_code == 0
    assert shown[0]["plan_hash"] == shown[1]["plan_hash"] == json.loads(saved.read_text())["plan_hash"]
    assert shown[0]["expected_rows"] == 2  # the payment and its subscription


def test_old_plan_format_is_refused_with_a_clear_message(proaudit, tmp_path: Path) -> None:
    plan = tmp_path / "p.json"
    assert proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--plan-out", str(plan)).exit_code == 0
    _forge(plan, lambda data: data.update(format=1))
    applied = proaudit("apply", str(plan), "--yes")
    assert applied.exit_code == 2
    assert "format 1" in applied.stderr and "older proaudit" in applied.stderr


@pytest.mark.parametrize("bad", ["missing-folder/p.json", "."])
def test_plan_out_is_checked_before_planning(proaudit, tmp_path: Path, bad: str) -> None:
    target = tmp_path / bad
    ran = proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--plan-out", str(target))
    assert ran.exit_code == 2, ran.stderr
    assert "--plan-out" in ran.stderr
    assert not (tmp_path / "missing-folder").exists()
    assert proaudit("--json", "audit", "log").json()["data"]["records"] == []


SCHEMA_MISFITS = [
    (lambda d: d["changes"][0]["new_values"].update(status="x" * 21), "payment_transactions.status"),
    (lambda d: d["changes"][0]["key"].update(id="not-a-uuid"), "payment_transactions.id"),
    (lambda d: d["changes"][0]["new_values"].update(paystack_transaction_id="abc"), "payment_transactions.paystack"),
    (lambda d: d["changes"][0]["new_values"].update(paid_at="yesterday"), "payment_transactions.paid_at"),
    (lambda d: d["changes"][0]["new_values"].update(no_such="x"), "payment_transactions.no_such"),
]


@pytest.mark.parametrize(("edit", "named"), SCHEMA_MISFITS)
def test_plan_values_that_do_not_fit_the_schema_are_refused_before_the_database(
    proaudit, isolated_env: Path, tmp_path: Path, edit, named: str
) -> None:  # type: ignore[no-untyped-def]
    from proaudit_ops.protocols.plan_auth import home_plan_key

    plan = tmp_path / "p.json"
    assert proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--plan-out", str(plan)).exit_code == 0
    _forge(plan, edit, home_plan_key(isolated_env))  # even signed with the right key
    dead = {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "PROAUDIT_PAYSTACK_SIMULATOR": "true"}
    applied = proaudit("apply", str(plan), "--yes", env=dead)  # no transaction may be attempted
    assert applied.exit_code == 2, applied.stderr
    assert named in applied.stderr
    assert proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 1


def test_signed_plan_without_a_planned_record_is_refused(proaudit, isolated_env: Path, tmp_path: Path) -> None:
    from proaudit_ops.protocols.plan_auth import home_plan_key

    plan = tmp_path / "p.json"
    assert proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--plan-out", str(plan)).exit_code == 0

    def to_failed(data: dict) -> None:  # type: ignore[type-arg]
        data["changes"][0]["new_values"]["status"] = "failed"

    _forge(plan, to_failed, home_plan_key(isolated_env))  # the key leaked, the audit log did not
    applied = proaudit("apply", str(plan), "--yes")
    assert applied.exit_code == 4, applied.stderr
    assert "no `planned` audit record" in applied.stderr
    assert proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 1


def test_plan_key_is_private_and_never_shown(proaudit, isolated_env: Path, tmp_path: Path) -> None:
    import os
    import stat

    plan = tmp_path / "p.json"
    saved = proaudit("--json", "payments", "verify", "PSK-STUCK-0001", "--fix", "--plan-out", str(plan))
    key_file = isolated_env / "plan.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    key = key_file.read_text().strip()
    applied = proaudit("--json", "apply", str(plan), "--yes")
    log = proaudit("--json", "audit", "log")
    for text in (saved.stdout, saved.stderr, applied.stdout, applied.stderr, log.stdout, plan.read_text()):
        assert key not in text
    os.chmod(key_file, 0o644)
    refused = proaudit("payments", "verify", "PSK-STUCK-0002", "--fix", "--plan-out", str(tmp_path / "q.json"))
    assert refused.exit_code == 2
    assert "plan.key" in refused.stderr and "0644" in refused.stderr


def test_configured_plan_key_signs_and_verifies(proaudit, isolated_env: Path, tmp_path: Path) -> None:
    plan = tmp_path / "p.json"
    env = {"PROAUDIT_PLAN_KEY": "a-shared-team-key-of-some-length"}
    assert proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--plan-out", str(plan), env=env).exit_code == 0
    assert not (isolated_env / "plan.key").exists()
    other = proaudit("apply", str(plan), "--yes")  # the home key is another key
    assert other.exit_code == 4 and "not authenticated" in other.stderr
    assert proaudit("apply", str(plan), "--yes", env=env).exit_code == 0


def _live_env(tmp_path: Path, key: str, sandbox_mode: str) -> dict[str, str]:
    from proaudit_ops.sandbox.home import ensure_sandbox

    db = tmp_path / "billing.db"
    ensure_sandbox(db).dispose()
    return {
        "PAYSTACK_SECRET_KEY": key,
        "PAYSTACK_SANDBOX_MODE": sandbox_mode,
        "DATABASE_URL": f"sqlite+pysqlite:///{db}",
        "PROAUDIT_PAYSTACK_SIMULATOR": "true",
        "PROAUDIT_HOME": str(tmp_path),
    }


@pytest.mark.parametrize(
    ("key", "mode", "flags", "named"),
    [
        ("sk_live_FAKEcanary01", "true", ["--live"], "PAYSTACK_SANDBOX_MODE=true"),
        ("sk_live_FAKEcanary01", "true", [], "PAYSTACK_SANDBOX_MODE=true"),
        ("sk_test_FAKEcanary01", "false", [], "PAYSTACK_SANDBOX_MODE=false"),
        ("sk_test_FAKEcanary01", "false", ["--live"], "PAYSTACK_SANDBOX_MODE=false"),
    ],
)
def test_key_mode_contradicting_the_configured_mode_refuses_every_change(
    proaudit, tmp_path: Path, key: str, mode: str, flags: list[str], named: str
) -> None:
    env = _live_env(tmp_path, key, mode)
    refused = proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--yes", *flags, env=env)
    assert refused.exit_code == 4, refused.stderr
    assert "PAYSTACK_SECRET_KEY" in refused.stderr and named in refused.stderr
    assert key not in refused.stderr
    assert proaudit("payments", "verify", "PSK-STUCK-0001", env=env).exit_code == 1  # unchanged
    records = proaudit("--json", "audit", "log", env=env).json()["data"]["records"]
    assert [r["outcome"] for r in records] == ["refused"]


def test_agreeing_key_and_mode_are_not_a_contradiction(proaudit, tmp_path: Path) -> None:
    env = _live_env(tmp_path, "sk_test_FAKEcanary01", "true")
    assert proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--yes", env=env).exit_code == 0


@pytest.mark.postgres
def test_two_rows_for_one_reference_are_refused_not_one_changed(pg_proaudit, pg_engine) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import insert, select, text

    from proaudit_ops.db.schema import payment_transactions as pt

    with pg_engine.begin() as conn:  # a real billing database may lack the unique constraint
        conn.execute(text("ALTER TABLE payment_transactions DROP CONSTRAINT payment_transactions_reference_key"))
        row = dict(conn.execute(select(pt).where(pt.c.reference == "PSK-STUCK-0001")).mappings().one())
        conn.execute(insert(pt).values({**row, "id": "00000000-0000-4000-8000-00000000d0b1"}))
    ran = pg_proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--yes")
    assert ran.exit_code == 4, ran.stderr
    assert "payment_transactions where reference = 'PSK-STUCK-0001' matched 2 rows, expected 1" in ran.stderr
    assert "no longer exists" not in ran.stderr
    with pg_engine.connect() as conn:
        statuses = conn.execute(select(pt.c.status).where(pt.c.reference == "PSK-STUCK-0001")).scalars().all()
    assert statuses == ["pending", "pending"]
    stuck = pg_proaudit("payments", "stuck", "--verify", "--fix", "--yes")
    assert stuck.exit_code == 4, stuck.stderr
    assert "matched 2 rows, expected 1" in stuck.stderr


@pytest.mark.postgres
@pytest.mark.parametrize(
    "args",
    [
        ["payments", "verify", "PSK-STUCK-0001"],
        ["payments", "status"],
        ["payments", "verify", "PSK-STUCK-0001", "--fix", "--yes"],
        ["payments", "stuck", "--verify", "--fix", "--yes"],
    ],
)
def test_a_table_lock_held_elsewhere_times_out_instead_of_hanging(
    pg_proaudit, pg_engine, pg_url: str, isolated_env: Path, args: list[str]
) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    from sqlalchemy import text

    env = {
        **os.environ,
        "DATABASE_URL": pg_url,
        "PROAUDIT_PAYSTACK_SIMULATOR": "true",
        "PROAUDIT_HOME": str(isolated_env),
        "PROAUDIT_LOCK_TIMEOUT_MS": "300",
        "PROAUDIT_STATEMENT_TIMEOUT_MS": "3000",
    }
    with pg_engine.connect() as holder:
        holder.execute(text("LOCK TABLE payment_transactions IN ACCESS EXCLUSIVE MODE"))
        try:
            ran = subprocess.run(
                [sys.executable, "-m", "proaudit_ops", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,  # a hang fails the test instead of hanging the suite
                check=False,
            )
        finally:
            holder.rollback()
    assert ran.returncode == 4, ran.stderr
    assert "timed out waiting for a lock after 0.3 s" in ran.stderr
    assert "cannot reach the database" not in ran.stderr
