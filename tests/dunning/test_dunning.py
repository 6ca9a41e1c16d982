"""dunning on the sandbox: the reads, one charge per attempt, Paystack's do-not-retry answers,
maintenance mode, and a SIGKILL at each charge point followed by a rerun (one charge per reference)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

SAHEL = "Sahel Agro Cooperative"


def cli(*args: str) -> tuple[int, str, str]:
    from proaudit_ops.cli.app import app

    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def sandbox_db(home: Path) -> Path:
    found = sorted(home.parent.rglob("sandbox.db"))
    assert found, "no sandbox database"
    return found[0]


def charges(home: Path) -> dict[str, int]:
    engine = create_engine(f"sqlite:///{sandbox_db(home)}")
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT reference, count(*) FROM sim_transactions WHERE reference LIKE 'DUN-%' GROUP BY reference")
        ).all()
    engine.dispose()
    return {str(r[0]): int(r[1]) for r in rows}


def record_of(home: Path, org: str) -> dict[str, object]:
    engine = create_engine(f"sqlite:///{sandbox_db(home)}")
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT d.status, d.attempt_count, d.next_retry_at, d.last_failure_reason FROM dunning_records d "
                "JOIN organizations o ON o.id = d.organization_id WHERE o.name = :n ORDER BY d.created_at DESC"
            ),
            {"n": org},
        ).first()
    engine.dispose()
    assert row is not None
    return dict(row._mapping)


def test_status_list_preview_and_failures() -> None:
    code, out, _ = cli("dunning", "status", SAHEL)
    assert code == 1 and "2/4" in out and "PSK-FAILED-0002" in out and "150,000.00" in out
    code, out, _ = cli("dunning", "list", "--state", "active")
    assert code == 0 and "Nnamdi" in out and "Obi Motors" not in out
    code, out, _ = cli("dunning", "preview", "--days", "7")
    assert code == 0 and "cancelled" in out and "retried (attempt 3)" in out
    code, out, _ = cli("dunning", "failures", "Obi Motors")
    assert code == 0 and "PSK-HIST-0012" in out and "Insufficient Funds" in out


def test_retry_recovers_once_and_a_second_retry_sends_nothing(isolated_env: Path) -> None:
    code, out, err = cli("dunning", "retry", SAHEL, "--yes")
    assert code == 0, err
    assert "recovered" in out
    assert list(charges(isolated_env).values()) == [1]
    assert record_of(isolated_env, SAHEL)["status"] == "recovered"
    code, _, err = cli("dunning", "retry", SAHEL, "--yes")
    assert code == 4 and "no active dunning record" in err
    assert list(charges(isolated_env).values()) == [1]
    code, out, _ = cli("audit", "verify")
    assert code == 0


def test_insufficient_funds_twice_stops_the_retries(isolated_env: Path) -> None:
    code, out, _ = cli("dunning", "retry", "nnamdi", "--yes")
    assert code == 1 and "Insufficient Funds" in out  # charged, declined: still owed
    rec = record_of(isolated_env, "Nnamdi & Sons Hardware")
    assert rec["attempt_count"] == 2 and rec["next_retry_at"] is None
    code, _, err = cli("dunning", "retry", "nnamdi", "--yes")
    assert code == 4 and "not to retry" in err
    assert len(charges(isolated_env)) == 1


def test_card_regulated_waits_24_hours(isolated_env: Path) -> None:
    cli("dunning", "status", SAHEL)  # seeds the sandbox
    engine = create_engine(f"sqlite:///{sandbox_db(isolated_env)}")
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE sim_authorizations SET failure = :f WHERE email = 'finance@sahelagro.ng'"),
            {"f": "Charge attempt cannot be fulfilled until 1440 minutes"},
        )
    engine.dispose()
    code, out, _ = cli("dunning", "retry", SAHEL, "--yes")
    assert code == 1 and "cannot be fulfilled" in out
    code, _, err = cli("dunning", "retry", SAHEL, "--yes")
    assert code == 4 and "regulated" in err
    assert len(charges(isolated_env)) == 1


def test_refused_in_maintenance_unless_forced(isolated_env: Path) -> None:
    code, _, err = cli("recovery", "maintenance", "on", "--message", "db work", "--ttl", "10m", "--yes")
    assert code == 0, err
    code, _, err = cli("dunning", "retry", SAHEL, "--yes")
    assert code == 4 and "maintenance" in err
    assert charges(isolated_env) == {}
    code, _, err = cli("dunning", "retry", SAHEL, "--yes", "--force")
    assert code == 0, err


@pytest.mark.parametrize("point", ["charge:after_intent", "charge:after_post", "charge:after_record"])
def test_sigkill_at_each_point_then_rerun_charges_once(isolated_env: Path, point: str) -> None:
    cli("dunning", "status", SAHEL)  # seeds the sandbox
    env = {**os.environ, "PROAUDIT_CRASH_AT": point}
    cmd = [sys.executable, "-m", "proaudit_ops", "dunning", "retry", SAHEL, "--yes"]
    killed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert killed.returncode == -9, killed.stderr
    env.pop("PROAUDIT_CRASH_AT")
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    if point == "charge:after_record":  # the first run finished its work before the kill
        assert rerun.returncode == 4, rerun.stderr
    else:
        assert rerun.returncode == 0, rerun.stderr
    counts = charges(isolated_env)
    assert len(counts) == 1 and set(counts.values()) == {1}
    assert record_of(isolated_env, SAHEL)["status"] == "recovered"
    verify = subprocess.run(
        [sys.executable, "-m", "proaudit_ops", "audit", "verify"], env=env, capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_extend_moves_the_retry_and_the_period_through_the_guard(isolated_env: Path) -> None:
    code, _, err = cli("dunning", "extend", "nnamdi", "--days", "7", "--reason", "promised payment", "--dry-run")
    assert code == 0, err
    before = record_of(isolated_env, "Nnamdi & Sons Hardware")
    code, out, err = cli("dunning", "extend", "nnamdi", "--days", "7", "--reason", "promised payment", "--yes")
    assert code == 0 and "applied: 2 row(s)" in out, err
    after = record_of(isolated_env, "Nnamdi & Sons Hardware")
    assert str(after["next_retry_at"]) > str(before["next_retry_at"])
    code, _, err = cli("dunning", "extend", "Obi Motors", "--days", "7", "--reason", "x", "--yes")
    assert code == 4 and "no active dunning record" in err
    code, _, _ = cli("dunning", "extend", "nnamdi", "--days", "0", "--reason", "x", "--yes")
    assert code == 2
