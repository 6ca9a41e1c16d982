"""The crash sweep the issue asks for `subscriptions activate` too: SIGKILL at every guard crash
point, on PostgreSQL with the served simulator; the row is all old or all new, the audit chain
verifies, and a rerun leaves it activated exactly once."""

from __future__ import annotations

import json
import signal

import pytest
from proaudit_fixtures import Served
from sqlalchemy import text

from proaudit_ops.timeutil import utcnow

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ORG = "Delta Freight Partners"  # cancelled in the seed
POINTS = ["guard:after_lock", "guard:after_update", "guard:after_audit", "guard:before_commit", "guard:after_commit"]


def sku(served: Served) -> dict[str, object]:
    with served.billing.connect() as conn:
        row = conn.execute(
            text("SELECT t.* FROM tenant_skus t JOIN organizations o ON o.id = t.organization_id WHERE o.name = :n"),
            {"n": ORG},
        ).mappings()
        return dict(row.one())


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_during_activate_then_rerun(served: Served, point: str) -> None:
    start = utcnow().date().isoformat()  # a fixed --from: the rerun plans the very same change
    args = ["subscriptions", "activate", ORG, "--tier", "core", "--cycle", "monthly", "--from", start]
    args += ["--reason", "crash sweep", "--yes"]
    before = sku(served)
    assert before["is_active"] is False
    killed = served.run(*args, extra={"PROAUDIT_CRASH_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    after_crash = sku(served)
    committed = point == "guard:after_commit"
    assert after_crash["is_active"] is committed  # all or nothing
    assert (after_crash["updated_at"] == before["updated_at"]) is not committed
    assert served.run("audit", "verify").returncode == 0
    rerun = served.run(*args)
    assert rerun.returncode == 0, rerun.stderr
    final = sku(served)
    assert final["is_active"] is True
    assert final["tier"] == "core"
    assert final["cancel_at_period_end"] is False
    log = served.run("--json", "audit", "log")
    records = json.loads(log.stdout)["data"]["records"]
    applied = [r for r in records if r["outcome"] == "applied" and r["action"] == "subscriptions.activate"]
    assert len(applied) == 1  # activated exactly once, by whichever run committed
    assert served.run("audit", "verify").returncode == 0
