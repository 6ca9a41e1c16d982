"""A run killed (SIGKILL) in the middle of paging resumes from its checkpoint with --resume.

The page's staged rows and the checkpoint commit together, so the resumed run stages each page once:
its categories equal an uninterrupted run's, and it fetched only the pages after the checkpoint.
"""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from reconcile_helpers import subprocess_proaudit
from sqlalchemy import select

from proaudit_ops.db.schema import ops_reconcile_runs, payment_transactions
from proaudit_ops.sandbox.dataset import ORGS, Pay
from proaudit_ops.sandbox.seed import _payment_row, _sim_row
from proaudit_ops.sandbox.state import sim_transactions
from proaudit_ops.timeutil import iso, utcnow

EXTRA = 2_450  # with the seed: 25 pages of 100, committed 10 at a time


def _add_rows(billing: Any, sandbox: Any) -> None:
    """Consistent payments (failed on both sides: no entitlement involved), every 20th stuck."""
    now = utcnow().replace(microsecond=0)
    payments, sims = [], []
    for i in range(EXTRA):
        org = ORGS[i % len(ORGS)]
        db_status = "pending" if i % 20 == 0 else "failed"
        pay = Pay(f"RESUME-{i:05d}", org.slug, 5_000_000, db_status, "failed", timedelta(hours=1, seconds=i * 10))
        channel = "card" if org.card else "bank_transfer"
        pay = Pay(**{**pay.__dict__, "channel": channel, "entry": "transaction_initialize"})
        sim = _sim_row(pay, org, 5_000_000_000 + i, now, i)
        sim["status"] = "failed"
        sims.append(sim)
        payments.append(_payment_row(pay, org, sim, now))
    with billing.begin() as conn:
        conn.execute(payment_transactions.insert(), payments)
    with sandbox.begin() as conn:
        conn.execute(sim_transactions.insert(), sims)


@pytest.fixture
def big_pg(pg_engine: Any, pg_url: str, isolated_env: Path) -> dict[str, str]:
    from proaudit_ops.sandbox.home import ensure_sandbox
    from proaudit_ops.sandbox.seed import seed_billing

    seed_billing(pg_engine, now=utcnow())
    sandbox = ensure_sandbox(isolated_env / "sandbox.db")
    _add_rows(pg_engine, sandbox)
    sandbox.dispose()
    return {"DATABASE_URL": pg_url, "PROAUDIT_PAYSTACK_SIMULATOR": "true", "PROAUDIT_HOME": str(isolated_env)}


def _counts(envelope_text: str) -> dict[str, int]:
    import json

    return {c["name"]: c["count"] for c in json.loads(envelope_text)["data"]["categories"]}


def test_sigkill_mid_run_then_resume(big_pg: dict[str, str], pg_engine: Any) -> None:
    args = ["--json", "reconcile", "--since", "2d", "--source", "api"]
    killed = subprocess_proaudit(args, {**big_pg, "PROAUDIT_CRASH_AT": "reconcile:page:10"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with pg_engine.connect() as conn:
        run = conn.execute(select(ops_reconcile_runs)).mappings().one()
    assert (run["state"], run["phase"], run["pages"], run["rows"]) == ("staging", "transactions", 10, 1000)
    assert run["cursor"]

    resumed = subprocess_proaudit([*args, "--resume"], big_pg)
    assert resumed.returncode == 1, resumed.stderr
    import json

    data = json.loads(resumed.stdout)["data"]
    assert data["resumed"] is True and data["source_reason"].startswith("resumed run")
    assert data["pages"] >= 25
    assert (data["window_from"], data["window_to"]) == (iso(run["window_from"]), iso(run["window_to"]))

    fresh = subprocess_proaudit(args, big_pg)  # the same window from scratch
    assert fresh.returncode == 1, fresh.stderr
    assert _counts(resumed.stdout) == _counts(fresh.stdout)
    assert _counts(fresh.stdout)["not_paid"] == len(range(0, EXTRA, 20)) + 1  # + PSK-ABANDONED-0001


def test_without_resume_an_interrupted_run_is_started_over(big_pg: dict[str, str], pg_engine: Any) -> None:
    args = ["--json", "reconcile", "--since", "2d", "--source", "api"]
    assert subprocess_proaudit(args, {**big_pg, "PROAUDIT_CRASH_AT": "reconcile:page:10"}).returncode == -9
    again = subprocess_proaudit(args, big_pg)
    assert again.returncode == 1
    import json

    assert json.loads(again.stdout)["data"]["resumed"] is False
    with pg_engine.connect() as conn:
        states = conn.execute(select(ops_reconcile_runs.c.state)).scalars().all()
    assert states == ["done"]  # the abandoned run and its staged rows were dropped
