"""SIGKILL at every guard crash point against PostgreSQL: the database is all before or all after,
never half of a two-row plan, and the audit chain still verifies. A rerun then applies it once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from proaudit_ops.audit import AuditRecord, query, verify_chain
from proaudit_ops.db.engine import read_only

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SCRIPT = r"""
import sys
from pathlib import Path
from proaudit_ops.audit import AuditContext, AuditLog
from proaudit_ops.db.engine import make_engine
from proaudit_ops.protocols.guard import ApplyOptions, ChangeGuard
from proaudit_ops.protocols.plan import Plan, RowChange
from proaudit_ops.db.schema import payment_transactions as pt
from proaudit_ops.timeutil import utcnow

url, fallback, *refs = sys.argv[1:]
engine = make_engine(url)
context = AuditContext("crash-test", "ci", "host", "proaudit payments stuck --fix --yes")
audit = AuditLog(context, Path(fallback))
guard = ChangeGuard(engine, audit, lock_timeout_ms=500, statement_timeout_ms=5000)

def build(conn):
    rows = guard.lock_rows(conn, pt, pt.c.reference.in_(refs) & (pt.c.status == "pending"))
    now = utcnow()
    changes = tuple(
        RowChange(pt.name, {"id": r["id"]}, {"status": "pending"},
                  {"status": "success", "paid_at": now, "updated_at": now}, r, r["reference"])
        for r in rows
    )
    return Plan("payments.fix", "stuck", changes, utcnow(), "bulk")

result = guard.execute(build, ApplyOptions(assume_yes=True), lambda plan: True)
print(result.outcome, len(result.rows))
"""

POINTS = [
    "guard:after_lock",
    "guard:after_update",
    "guard:after_audit",
    "guard:before_commit",
    "guard:after_commit",
]


def run(
    script: Path, url: str, fallback: Path, refs: list[str], crash_at: str | None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PROAUDIT_CRASH_AT"}
    if crash_at:
        env["PROAUDIT_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, str(script), url, str(fallback), *refs],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def state(engine: Engine, refs: list[str]) -> tuple[set[str], list[AuditRecord], bool]:
    from sqlalchemy import select

    from proaudit_ops.db.schema import payment_transactions as pt

    with read_only(engine) as conn:
        statuses = set(conn.execute(select(pt.c.status).where(pt.c.reference.in_(refs))).scalars())
        records = query(conn, limit=100)
        ok = verify_chain(conn).ok
    return statuses, records, ok


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_each_crash_point_leaves_all_or_nothing(
    point: str, pg_url: str, pg_engine: Engine, seed: Any, tmp_path: Path
) -> None:
    script = tmp_path / "fix.py"
    script.write_text(SCRIPT)
    fallback = tmp_path / "fallback.jsonl"
    refs = seed(pg_engine, 2)
    # One earlier record, so the chain has something to break.
    assert run(script, pg_url, fallback, seed(pg_engine, 1), None).returncode == 0

    crashed = run(script, pg_url, fallback, refs, point)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr

    statuses, records, ok = state(pg_engine, refs)
    assert ok
    if point == "guard:after_commit":
        assert statuses == {"success"}
        assert [r.outcome for r in records] == ["applied", "applied"]
    else:
        assert statuses == {"pending"}, f"half-applied after a crash at {point}"
        assert [r.outcome for r in records] == ["applied"]

    # The rerun: the killed session's locks go away with its backend; retry while refused.
    deadline = time.monotonic() + 10
    while True:
        rerun = run(script, pg_url, fallback, refs, None)
        if rerun.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert rerun.returncode == 0, rerun.stderr
    expected = "nothing 0" if point == "guard:after_commit" else "applied 2"
    assert rerun.stdout.strip() == expected
    statuses, records, ok = state(pg_engine, refs)
    assert statuses == {"success"}
    assert ok
    assert [r.outcome for r in records].count("applied") == 2
    assert not fallback.exists()
