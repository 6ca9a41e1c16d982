"""`reconcile` against PostgreSQL (COPY into the staging table, every category in SQL) and the simulator."""

from __future__ import annotations

from typing import Any

from reconcile_helpers import Invoke
from sqlalchemy import func, select

from proaudit_ops.core.reconcile.compare import FIXABLE
from proaudit_ops.db.schema import ops_reconcile_rows, ops_reconcile_runs
from proaudit_ops.sandbox.dataset import RECONCILE_CASES


def _found(ran: Any) -> dict[str, tuple[str, ...]]:
    return {name: tuple(sorted(c["references"])) for name, c in ran.categories().items()}


def test_postgres_categories_fix_and_second_run(pg_proaudit: Invoke, pg_engine: Any) -> None:
    first = pg_proaudit("--json", "reconcile", "--since", "30d")
    assert first.exit_code == 1, first.stderr
    assert _found(first) == {name: tuple(sorted(refs)) for name, refs in RECONCILE_CASES.items()}
    with pg_engine.connect() as conn:  # a finished run leaves no staged rows behind
        assert conn.execute(select(func.count()).select_from(ops_reconcile_rows)).scalar() == 0
        assert conn.execute(select(ops_reconcile_runs.c.state)).scalars().all() == ["done"]

    fixed = pg_proaudit("--json", "reconcile", "--since", "30d", "--fix", "--yes")
    assert fixed.json()["data"]["fix_outcome"] == "applied", fixed.stderr
    second = pg_proaudit("--json", "reconcile", "--since", "30d")
    assert second.exit_code == 1
    assert _found(second) == {n: () if n in FIXABLE else tuple(sorted(r)) for n, r in RECONCILE_CASES.items()}
    records = pg_proaudit("--json", "audit", "log").json()["data"]["records"]
    assert [r["outcome"] for r in records if r["action"] == "reconcile.fix"] == ["applied"]
    assert pg_proaudit("audit", "verify").exit_code == 0


def test_paystack_down_is_exit_3(pg_proaudit: Invoke, monkeypatch: Any) -> None:
    monkeypatch.setenv("PROAUDIT_SIM_ERROR_RATE", "1.0")
    monkeypatch.setenv("PAYSTACK_MAX_RETRIES", "0")
    ran = pg_proaudit("reconcile", "--since", "30d")
    assert ran.exit_code == 3, ran.stdout + ran.stderr
