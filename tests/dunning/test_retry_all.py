"""retry-all against a degraded simulator: 429s waited out (at least Retry-After), no reference
charged twice, the breaker opens on consecutive 5xx before another POST, and the cursor resumes."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from proaudit_ops.config import load_settings
from proaudit_ops.core.dunning.batch import Breaker, retry_all
from proaudit_ops.protocols.guard import ApplyOptions
from proaudit_ops.runtime import Runtime
from proaudit_ops.sandbox.faults import clear_scripted_faults, script_fault
from proaudit_ops.timeutil import utcnow
from tests.dunning.test_dunning import charges, cli, record_of, sandbox_db

CHARGE = "/transaction/charge_authorization"


def _setup(home: Path) -> object:
    cli("dunning", "status", "nnamdi")  # seeds the sandbox
    engine = create_engine(f"sqlite:///{sandbox_db(home)}")
    with engine.begin() as conn:  # Sahel's and Nnamdi's records due now; the regulated and 2FA seeds not this week
        conn.execute(text("UPDATE dunning_records SET next_retry_at = :t WHERE status = 'active'"), {"t": utcnow()})
        conn.execute(
            text(
                "UPDATE dunning_records SET next_retry_at = :t WHERE organization_id IN "
                "(SELECT id FROM organizations WHERE name IN ('Kano Textile Mills', 'Enugu Pharmacy Group'))"
            ),
            {"t": utcnow() + timedelta(days=30)},
        )
    return engine


def test_429_waits_then_the_breaker_opens_and_the_cursor_resumes(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROAUDIT_SIM_RETRY_AFTER_S", "2")
    engine = _setup(isolated_env)
    waits: list[float] = []
    script_fault(engine, CHARGE, "rate_limit", method="POST", count=1)  # type: ignore[arg-type]
    script_fault(engine, CHARGE, "error", method="POST", count=20, status=503)  # type: ignore[arg-type]
    options = ApplyOptions(assume_yes=True)
    with Runtime(load_settings(None, None)) as rt:
        first = retry_all(
            rt, options, concurrency=1, breaker=Breaker(consecutive=1), sleep=waits.append, min_429_wait=0.0
        )
    # the 429 was waited out (at least its Retry-After), then the 503 opened the breaker
    assert waits == [2.0]  # exactly the simulator's Retry-After: 2
    assert first.opened and first.exit_code == 1
    assert [o.result for o in first.outcomes] == ["unknown"]
    assert first.cursor is not None and first.cursor.split("@")[0] == first.outcomes[0].record_id
    assert first.remaining == 1
    assert first.resume_command == f"proaudit dunning retry-all --yes --after {first.cursor}"
    with engine.connect() as conn:  # no further POST: 19 scripted 503s are still waiting
        left = conn.execute(text("SELECT remaining FROM sim_faults")).scalar()
    assert left == 19
    clear_scripted_faults(engine)  # type: ignore[arg-type]
    with Runtime(load_settings(None, None)) as rt:
        second = retry_all(rt, options, concurrency=2, after=first.cursor, now=utcnow() + timedelta(seconds=1))
    assert [o.organization for o in second.outcomes] != [first.outcomes[0].organization]
    assert len(second.outcomes) == 1 and second.remaining == 0
    # the unknown one: the rerun verifies its reference before anything else, then charges once
    code, _, err = cli("dunning", "retry", first.outcomes[0].organization, "--yes")
    assert code in (0, 1), err
    assert all(n == 1 for n in charges(isolated_env).values())
    assert record_of(isolated_env, "Sahel Agro Cooperative")["status"] == "recovered"
    code, _, _ = cli("audit", "verify")
    assert code == 0


def test_the_cursor_resumes_after_a_record_that_was_recovered(isolated_env: Path) -> None:
    """The breaker opens on the error rate right after a success: the cursor names a record that is
    no longer due, and resuming from it still works (and leaves the earlier records alone)."""
    from proaudit_ops.db.schema import dunning_records as d
    from proaudit_ops.db.schema import ops_intents
    from proaudit_ops.sandbox.dunning_population import add_due_dunning

    engine = _setup(isolated_env)
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(
            text("UPDATE dunning_records SET next_retry_at = :t WHERE status = 'active'"),
            {"t": utcnow() + timedelta(days=9)},
        )
    made = add_due_dunning(engine, engine, 3, due_at=utcnow() - timedelta(minutes=1), label="Cursor")  # type: ignore[arg-type]
    with engine.connect() as conn:  # type: ignore[attr-defined]
        query = select(d.c.id).where(d.c.status == "active").order_by(d.c.next_retry_at, d.c.id).limit(3)
        order = [str(r[0]) for r in conn.execute(query)]
    assert sorted(order) == sorted(o.record_id for o in made)
    script_fault(engine, CHARGE, "error", method="POST", count=1, status=503)  # type: ignore[arg-type]
    options = ApplyOptions(assume_yes=True)
    with Runtime(load_settings(None, None)) as rt:
        first = retry_all(rt, options, concurrency=1, breaker=Breaker(consecutive=5, max_error_rate=0.4, min_sample=2))
    assert first.opened and [o.result for o in first.outcomes] == ["unknown", "recovered"]
    assert first.cursor is not None and first.cursor.split("@")[0] == order[1]
    with Runtime(load_settings(None, None)) as rt:
        second = retry_all(rt, options, concurrency=1, after=first.cursor)
    assert [o.record_id for o in second.outcomes] == [order[2]] and second.outcomes[0].result == "recovered"
    assert second.remaining == 0 and not second.opened
    with engine.connect() as conn:  # type: ignore[attr-defined]
        state = conn.execute(select(ops_intents.c.state).where(ops_intents.c.target == order[0])).scalar()
    assert state == "unknown"  # before the cursor: left for a run from the start


def _population(home: Path, count: int) -> None:
    from proaudit_ops.sandbox.dunning_population import add_due_dunning

    cli("dunning", "status", "nnamdi")  # seeds the sandbox
    engine = create_engine(f"sqlite:///{sandbox_db(home)}")
    add_due_dunning(engine, engine, count, due_at=utcnow() - timedelta(minutes=1), label="Batch")
    engine.dispose()


def test_dry_run_plans_every_due_charge_and_sends_none(isolated_env: Path) -> None:
    _population(isolated_env, 6)
    code, out, err = cli("dunning", "retry-all", "--dry-run")
    assert code == 0, err
    assert out.count(": planned would charge DUN-") >= 6 and "nothing was sent" in out
    assert charges(isolated_env) == {}
    code, out, _ = cli("--json", "audit", "log")
    planned = [r for r in json.loads(out)["data"]["records"] if r["action"] == "dunning.retry"]
    assert code == 0 and len(planned) >= 6 and {r["outcome"] for r in planned} == {"planned"}


def test_threads_of_one_run_do_not_refuse_each_other(isolated_env: Path) -> None:
    """Concurrency 4 on the sandbox: each charge holds its own op key, none is refused as busy."""
    _population(isolated_env, 8)
    code, out, err = cli("dunning", "retry-all", "--yes", "--concurrency", "4")
    assert "being run by another" not in out + err
    assert code == 0, out + err
    assert out.count(": recovered") >= 8
    assert set(charges(isolated_env).values()) == {1}
