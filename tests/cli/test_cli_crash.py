"""SIGKILL of the real `proaudit payments stuck --verify --fix --yes` at each crash point, on
PostgreSQL: the fixable payments are all still pending or all fixed (never some), the audit chain
verifies, and a rerun fixes them exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

FIXABLE = ("PSK-STUCK-0001", "PSK-STUCK-0002", "PSK-STUCK-0003", "PSK-ABANDONED-0001")
POINTS = ["guard:after_lock", "guard:after_update", "guard:after_audit", "guard:before_commit", "guard:after_commit"]


def statuses(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT reference, status FROM payment_transactions WHERE reference = ANY(:refs)"),
            {"refs": list(FIXABLE)},
        ).all()
    return {r.reference: r.status for r in rows}


def proaudit(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proaudit_ops", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_then_rerun(pg_proaudit, pg_engine: Engine, pg_url: str, isolated_env: Path, point: str) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": pg_url,
        "PROAUDIT_PAYSTACK_SIMULATOR": "true",
        "PROAUDIT_HOME": str(isolated_env),
    }
    before = statuses(pg_engine)
    assert set(before.values()) == {"pending"}

    killed = proaudit(["payments", "stuck", "--verify", "--fix", "--yes"], {**env, "PROAUDIT_CRASH_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    after_crash = statuses(pg_engine)
    assert set(after_crash.values()) in ({"pending"}, {"success", "abandoned"}), after_crash  # all or nothing
    assert pg_proaudit("audit", "verify").exit_code == 0

    rerun = proaudit(["--json", "payments", "stuck", "--verify", "--fix", "--yes"], env)
    assert rerun.returncode in (0, 1), rerun.stderr
    final = statuses(pg_engine)
    assert final == {**dict.fromkeys(FIXABLE[:3], "success"), "PSK-ABANDONED-0001": "abandoned"}
    applied = [r for r in pg_proaudit("--json", "audit", "log").json()["data"]["records"] if r["outcome"] == "applied"]
    assert len(applied) == 1  # fixed exactly once, by whichever run committed
    assert pg_proaudit("audit", "verify").exit_code == 0
