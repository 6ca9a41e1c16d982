"""SIGKILL of the real `proaudit payments verify PSK-STUCK-0001 --fix --yes` (its plan: the payment row and
the subscription row) at each crash point of the guard, on PostgreSQL, then a rerun: the payment and the
subscription are both as before or both fixed, never one of them; the rerun finishes the job exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

POINTS = ["guard:after_lock", "guard:after_update", "guard:after_audit", "guard:before_commit", "guard:after_commit"]


def state(engine: Engine) -> tuple[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT p.status, t.current_period_end FROM payment_transactions p "
                "JOIN tenant_skus t ON t.organization_id = p.organization_id WHERE p.reference = 'PSK-STUCK-0001'"
            )
        ).one()
    return str(row.status), row.current_period_end


def proaudit(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proaudit_ops", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_then_rerun_payment_and_subscription_together(
    pg_proaudit, pg_engine: Engine, pg_url: str, isolated_env: Path, point: str
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": pg_url,
        "PROAUDIT_PAYSTACK_SIMULATOR": "true",
        "PROAUDIT_HOME": str(isolated_env),
    }
    before = state(pg_engine)
    assert before[0] == "pending"
    fix = ["payments", "verify", "PSK-STUCK-0001", "--fix", "--yes"]

    killed = proaudit(fix, {**env, "PROAUDIT_CRASH_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    status, period_end = state(pg_engine)
    if status == "pending":
        assert period_end == before[1]  # both as before
    else:
        assert status == "success" and period_end > before[1]  # both fixed (only after the commit)
        assert point == "guard:after_commit"
    assert pg_proaudit("audit", "verify").exit_code == 0

    rerun = proaudit(["--json", *fix], env)
    assert rerun.returncode == 0, rerun.stderr
    final = state(pg_engine)
    assert final[0] == "success" and final[1] > before[1]
    assert pg_proaudit("payments", "verify", "PSK-STUCK-0001").exit_code == 0  # paid and entitled
    applied = [r for r in pg_proaudit("--json", "audit", "log").json()["data"]["records"] if r["outcome"] == "applied"]
    assert len(applied) == 1  # fixed exactly once, by whichever run committed
    assert pg_proaudit("audit", "verify").exit_code == 0
