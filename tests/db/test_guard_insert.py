"""New rows through the change guard (`RowChange.insert`): a dunning charge is a payment the app
never recorded. Applied once with its audit record; refused (nothing written) when a row with its
key or guarded reference exists by apply time; a saved plan keeps the flag; update plans keep
their hashes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, insert, select

from proaudit_ops.db.engine import read_only
from proaudit_ops.db.schema import organizations
from proaudit_ops.db.schema import payment_transactions as pt
from proaudit_ops.errors import Refused
from proaudit_ops.protocols.guard import ApplyOptions, ChangeGuard
from proaudit_ops.protocols.plan import Plan, RowChange
from proaudit_ops.protocols.saved_plan import load_plan_file
from proaudit_ops.timeutil import utcnow

YES = ApplyOptions(assume_yes=True)


def never(_plan: Plan) -> bool:
    raise AssertionError("the guard must not prompt here")


def _org(engine: Engine) -> str:
    org = str(uuid.uuid4())
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(organizations).values(id=org, name="Acme", email="b@acme.test", created_at=now, updated_at=now)
        )
    return org


def _new_payment(org: str, reference: str) -> RowChange:
    return RowChange(
        table="payment_transactions",
        key={"id": str(uuid.uuid4())},
        guards={"reference": reference},
        new_values={
            "organization_id": org,
            "reference": reference,
            "status": "success",
            "amount_kobo": 15_000_000,
            "currency": "NGN",
            "paid_at": "2026-12-01T10:00:00Z",
        },
        before={},
        label=f"payment {reference} (new)",
        touch=("created_at", "updated_at"),
        insert=True,
    )


def _build(change: RowChange) -> Callable[[Connection], Plan]:
    return lambda _conn: Plan(action="dunning.retry", reason="test", changes=(change,), created_at=utcnow(), target="x")


def _rows(engine: Engine, reference: str) -> list[dict[str, Any]]:
    with read_only(engine) as conn:
        return [dict(r) for r in conn.execute(select(pt).where(pt.c.reference == reference)).mappings()]


def test_a_new_row_is_inserted_once_with_its_audit_record(engine: Engine, guard: ChangeGuard) -> None:
    org = _org(engine)
    change = _new_payment(org, "DUN-new-1")
    result = guard.execute(_build(change), YES, never)
    assert result.outcome == "applied"
    rows = _rows(engine, "DUN-new-1")
    assert len(rows) == 1 and rows[0]["status"] == "success" and rows[0]["amount_kobo"] == 15_000_000
    assert rows[0]["created_at"] is not None  # touched at apply
    assert result.rows[0]["reference"] == "DUN-new-1"
    # the same plan again: the row exists now, so nothing is added a second time
    with pytest.raises(Refused, match="already has a row"):
        guard.execute(_build(change), YES, never)
    assert len(_rows(engine, "DUN-new-1")) == 1


def test_a_row_recorded_meanwhile_by_reference_refuses_the_plan(engine: Engine, guard: ChangeGuard) -> None:
    org = _org(engine)
    now = utcnow()
    with engine.begin() as conn:  # the app recorded the charge itself (another id, same reference)
        conn.execute(
            insert(pt).values(
                id=str(uuid.uuid4()),
                organization_id=org,
                reference="DUN-new-2",
                status="pending",
                amount_kobo=1,
                currency="NGN",
                created_at=now,
                updated_at=now,
            )
        )
    with pytest.raises(Refused, match="reference = 'DUN-new-2'"):
        guard.execute(_build(_new_payment(org, "DUN-new-2")), YES, never)
    rows = _rows(engine, "DUN-new-2")
    assert len(rows) == 1 and rows[0]["status"] == "pending"
    with read_only(engine) as conn:
        assert conn.execute(select(func.count()).select_from(pt)).scalar() == 1


def test_saved_insert_plan_round_trips_and_shows_its_sql(engine: Engine, guard: ChangeGuard, tmp_path: Path) -> None:
    org = _org(engine)
    change = _new_payment(org, "DUN-new-3")
    out = tmp_path / "plan.json"
    planned = guard.execute(_build(change), ApplyOptions(plan_out=out), never)
    assert planned.outcome == "planned" and '"insert": true' in out.read_text()
    loaded = load_plan_file(guard, out)
    assert loaded.changes[0].insert and loaded.plan_hash == planned.plan.plan_hash  # type: ignore[union-attr]
    assert guard.plan_sql(loaded)[0].startswith("INSERT INTO payment_transactions")
    assert guard.apply_saved(loaded, YES, never).outcome == "applied"
    assert len(_rows(engine, "DUN-new-3")) == 1


def test_update_plans_keep_their_hash_and_an_insert_has_no_row_as_read() -> None:
    update = RowChange(
        table="payment_transactions", key={"id": "a"}, guards={}, new_values={"status": "x"}, before={}, label="p"
    )
    assert "insert" not in update.to_dict()
    with pytest.raises(ValueError, match="a new row has none"):
        RowChange(
            table="payment_transactions",
            key={"id": "a"},
            guards={},
            new_values={"status": "x"},
            before={"status": "y"},
            label="p",
            insert=True,
        )
