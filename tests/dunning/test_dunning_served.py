"""The dunning reliability proof for real (issue 8): PostgreSQL billing tables, the simulator served by
`proaudit sandbox serve` in another process, every `proaudit` run a subprocess.

- A SIGKILL at every crash point `dunning retry` passes through, then a rerun: exactly one charge
  per period at the simulator, the database agrees with it, `audit verify` passes.
- `retry-all` against random 5xx and 429 (Retry-After 2): no reference charged twice, every wait
  after a 429 at least its Retry-After (the simulator's request log), reruns converge.
- 20 consecutive 503s: the breaker opens after K, no POST after it opened, the cursor resumes.
"""

from __future__ import annotations

import json
import signal
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from proaudit_fixtures import Served
from sqlalchemy import text

from proaudit_ops.core.dunning.retry import charge_reference
from proaudit_ops.timeutil import as_utc, utcnow

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SAHEL = "Sahel Agro Cooperative"
RETRY = ("dunning", "retry", SAHEL, "--yes")
# Every crash point a `dunning retry` passes through, in order (the first test checks the list).
POINTS = ["guard:after_lock", "charge:after_intent", "charge:before_post", "charge:after_post", "charge:after_record"]
POSTED = {"charge:after_post", "charge:after_record"}


def org_state(served: Served, name: str) -> dict[str, Any]:
    """The organization's active-or-latest dunning record, its payment row and its subscription."""
    with served.billing.connect() as conn:
        rec = (
            conn.execute(
                text(
                    "SELECT d.* FROM dunning_records d JOIN organizations o ON o.id = d.organization_id "
                    "WHERE o.name = :n ORDER BY (d.status = 'active') DESC, d.updated_at DESC"
                ),
                {"n": name},
            )
            .mappings()
            .first()
        )
        assert rec is not None
        pay = conn.execute(
            text("SELECT * FROM payment_transactions WHERE id = :i"), {"i": rec["payment_transaction_id"]}
        ).mappings()
        sku = conn.execute(
            text("SELECT * FROM tenant_skus WHERE organization_id = :o"), {"o": rec["organization_id"]}
        ).mappings()
        return {"record": dict(rec), "payment": dict(pay.one()), "sku": dict(sku.one())}


def expected_reference(before: dict[str, Any]) -> str:
    """The reference the retry must use: subscription + period being paid + attempt."""
    sku, rec = before["sku"], before["record"]
    return charge_reference(str(sku["id"]), as_utc(sku["current_period_end"]), int(rec["attempt_count"]) + 1)


def charge_intents(served: Served) -> dict[str, dict[str, Any]]:
    return {str(i["op_key"]): i for i in served.intents() if i["kind"] == "charge"}


def assert_db_agrees(served: Served, name: str, before: dict[str, Any], sim_tx: dict[str, Any]) -> None:
    """The payment row, the subscription period and the dunning record say what the simulator says."""
    ref = str(sim_tx["reference"])
    after = org_state(served, name)
    rec, pay, sku = after["record"], after["payment"], after["sku"]
    assert sim_tx["status"] == "success" and int(sim_tx["amount"]) == int(before["record"]["amount_kobo"])
    assert rec["id"] == before["record"]["id"]
    assert rec["status"] == "recovered" and rec["next_retry_at"] is None
    assert rec["attempt_count"] == before["record"]["attempt_count"] + 1
    assert pay["status"] == "success" and pay["reference"] == ref
    assert pay["paystack_transaction_id"] == int(sim_tx["id"])
    intent = charge_intents(served)[f"charge:{ref}"]
    assert intent["state"] == "done" and intent["external_id"] == str(sim_tx["id"])
    paid_to = as_utc(datetime.fromisoformat(json.loads(intent["params"])["period_end"]))
    assert as_utc(sku["current_period_end"]) == paid_to
    assert paid_to > (as_utc(before["sku"]["current_period_end"]) or utcnow() - timedelta(days=1))


def assert_verified(served: Served) -> None:
    verify = served.run("audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.fixture
def served(served: Served, redis_url: str) -> Served:
    """The served sandbox, with the app's Redis (maintenance mode is checked before a charge)."""
    served.env["PROAUDIT_REDIS_URL"] = redis_url
    return served


# -- the crash sweep ---------------------------------------------------------------------------


def test_the_sweep_covers_every_crash_point_of_dunning_retry(served: Served, tmp_path: Path) -> None:
    before = org_state(served, SAHEL)
    trace = tmp_path / "points"
    ran = served.run(*RETRY, extra={"PROAUDIT_CRASH_TRACE": str(trace)})
    assert ran.returncode == 0, ran.stderr
    assert list(dict.fromkeys(trace.read_text().split())) == POINTS  # a new point must join the sweep
    charges = served.sim_charges()
    assert list(charges) == [expected_reference(before)] and len(charges[expected_reference(before)]) == 1
    assert_db_agrees(served, SAHEL, before, charges[expected_reference(before)][0])
    assert_verified(served)


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_each_point_then_rerun_charges_once(served: Served, point: str) -> None:
    before = org_state(served, SAHEL)
    ref = expected_reference(before)
    killed = served.run(*RETRY, extra={"PROAUDIT_CRASH_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert len(served.sim_charges().get(ref, [])) == (1 if point in POSTED else 0)
    assert org_state(served, SAHEL)["record"]["status"] == ("recovered" if point == "charge:after_record" else "active")
    assert_verified(served)  # the chain holds after the kill too
    rerun = served.run(*RETRY)
    if point == "charge:after_record":  # the killed run had recorded everything
        assert rerun.returncode == 4 and "no active dunning record" in rerun.stderr, rerun.stderr
    else:
        assert rerun.returncode == 0, rerun.stderr
    charges = served.sim_charges()
    assert list(charges) == [ref] and len(charges[ref]) == 1, charges  # one charge for the period
    assert_db_agrees(served, SAHEL, before, charges[ref][0])
    assert len(charge_intents(served)) == 1
    again = served.run(*RETRY)  # and a third run sends nothing
    assert again.returncode == 4 and len(served.sim_charges()[ref]) == 1
    assert_verified(served)
