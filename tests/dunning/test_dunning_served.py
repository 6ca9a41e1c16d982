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
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from proaudit_fixtures import Served
from sqlalchemy import select, text

from proaudit_ops.core.dunning.batch import Breaker
from proaudit_ops.core.dunning.retry import charge_reference
from proaudit_ops.core.entitlement import period_end
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
    assert pay["status"] == before["payment"]["status"] == "failed"  # the failed renewal stays history
    with served.billing.connect() as conn:
        charge = conn.execute(text("SELECT * FROM payment_transactions WHERE reference = :r"), {"r": ref}).mappings()
        paid = dict(charge.one())  # the charge is a payment row of its own, once
    assert paid["status"] == "success" and paid["organization_id"] == rec["organization_id"]
    assert paid["paystack_transaction_id"] == int(sim_tx["id"]) and paid["amount_kobo"] == int(sim_tx["amount"])
    intent = charge_intents(served)[f"charge:{ref}"]
    assert intent["state"] == "done" and intent["external_id"] == str(sim_tx["id"])
    # entitled as the app entitles on charge.success: the period starts at Paystack's paid_at
    paid_to = period_end(as_utc(paid["paid_at"]), str(sku["billing_cycle"]))  # type: ignore[arg-type]
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
    rerun = served.run(*RETRY)
    if point == "charge:after_record":  # the killed run had recorded everything
        assert rerun.returncode == 4 and "no active dunning record" in rerun.stderr, rerun.stderr
    else:
        assert rerun.returncode == 0, rerun.stderr
    charges = served.sim_charges()
    assert list(charges) == [ref] and len(charges[ref]) == 1, charges  # one charge for the period
    assert_db_agrees(served, SAHEL, before, charges[ref][0])
    assert len(charge_intents(served)) == 1
    assert_verified(served)  # the chain holds across the kill


# -- retry-all against a degraded gateway ------------------------------------------------------

FAULTY = {
    "PROAUDIT_SIM_ERROR_RATE": "0.3",  # 5xx
    "PROAUDIT_SIM_RATE_LIMIT_RATE": "0.1",  # 429 + Retry-After
    "PROAUDIT_SIM_RETRY_AFTER_S": "2",
    "PROAUDIT_SIM_SEED": "20261202",
}
RETRY_AFTER_S = 2.0
RETRY_ALL = ("--json", "dunning", "retry-all", "--yes")


def population(served: Served, count: int, label: str) -> list[dict[str, Any]]:
    """`count` organizations due now (the seeded dunning records moved out of this run), in the
    order retry-all takes them, each with its state before the run."""
    from proaudit_ops.sandbox.dunning_population import add_due_dunning

    with served.billing.begin() as conn:
        conn.execute(
            text("UPDATE dunning_records SET next_retry_at = :t WHERE status = 'active'"),
            {"t": utcnow() + timedelta(days=30)},
        )
    made = add_due_dunning(served.billing, served.sim, count, due_at=utcnow() - timedelta(minutes=5), label=label)
    with served.billing.connect() as conn:
        order = [
            str(r[0])
            for r in conn.execute(
                text("SELECT id FROM dunning_records WHERE status = 'active' ORDER BY next_retry_at, id")
            ).all()
        ]
    ids = {o.record_id for o in made}
    assert [i for i in order if i in ids] == order[:count]  # ours come first
    by_id = {o.record_id: o for o in made}
    return [{"org": by_id[i], "before": org_state(served, by_id[i].name)} for i in order[:count]]


def period_of(reference: str) -> str:
    """DUN-<subscription>-<period end>-<attempt> -> the subscription and period it pays for."""
    return reference.rsplit("-", 1)[0]


def assert_no_double_charge(served: Served) -> dict[str, list[dict[str, Any]]]:
    charges = served.sim_charges()
    per_period: dict[str, int] = {}
    for ref, rows in charges.items():
        assert len(rows) == 1, f"{ref} charged {len(rows)} times"
        per_period[period_of(ref)] = per_period.get(period_of(ref), 0) + 1
    assert all(n == 1 for n in per_period.values()), per_period  # never two attempts paid one period
    return charges


def retry_all_json(served: Served, *args: str) -> dict[str, Any]:
    ran = served.run(*args)
    assert ran.returncode in (0, 1), ran.stdout + ran.stderr
    return json.loads(ran.stdout)  # type: ignore[no-any-return]


def test_retry_all_against_a_degraded_gateway_converges(serve_sandbox: Any, redis_url: str) -> None:
    served = serve_sandbox(FAULTY, request_log=True)
    served.env["PROAUDIT_REDIS_URL"] = redis_url
    served.env["PAYSTACK_MAX_RETRIES"] = "3"  # reads are retried (honouring Retry-After); a POST never
    orgs = population(served, 20, "Degraded")
    args = RETRY_ALL
    runs: list[dict[str, Any]] = []
    logs: list[list[dict[str, Any]]] = []  # the simulator's request log, one slice per run
    for _ in range(12):
        seen = len(served.requests())
        out = retry_all_json(served, *args)
        runs.append(out)
        logs.append(served.requests()[seen:])
        assert_no_double_charge(served)
        if all(org_state(served, o["org"].name)["record"]["status"] == "recovered" for o in orgs):
            break
        resume = out["data"].get("resume_command")
        args = ("--json", *resume.split()[1:]) if resume else RETRY_ALL
    else:
        pytest.fail(f"retry-all did not converge in {len(runs)} runs")
    charges = assert_no_double_charge(served)
    for o in orgs:
        ref = expected_reference(o["before"])
        assert ref in charges, ref
        assert_db_agrees(served, o["org"].name, o["before"], charges[ref][0])
    assert_verified(served)
    assert any(o["data"]["opened"] for o in runs) or len(runs) > 1  # the faults did bite
    checked = [assert_waits_honour_retry_after(log) for log in logs]
    limited = sum(1 for log in logs for r in log if r["status"] == 429)
    assert limited and sum(checked) >= limited // 2, (sum(checked), limited)  # most 429s were retried in-run


def assert_waits_honour_retry_after(log: list[dict[str, Any]]) -> int:
    """From the server's side, within one run: after each 429, the next request about the same
    reference (or path) arrived at least Retry-After after the 429 was answered. Returns how many
    429s were followed up in the run (a record given up on comes back in a later run)."""
    checked = 0
    for r in (r for r in log if r["status"] == 429):
        key = r["reference"] or r["path"]
        later = [n for n in log if (n["reference"] or n["path"]) == key and n["received"] > r["received"]]
        if later:
            checked += 1
            gap = later[0]["received"] - r["answered"]
            assert gap >= RETRY_AFTER_S, f"{r['method']} {r['path']}: next request after {gap:.3f}s < Retry-After"
    return checked


# -- 20 consecutive 503s: the breaker ----------------------------------------------------------

CHARGE = "/transaction/charge_authorization"


def test_consecutive_503s_open_the_breaker_before_another_post_and_the_cursor_resumes(
    serve_sandbox: Any, redis_url: str
) -> None:
    from proaudit_ops.sandbox.faults import clear_scripted_faults, script_fault
    from proaudit_ops.sandbox.state import sim_faults

    served = serve_sandbox(request_log=True)
    served.env["PROAUDIT_REDIS_URL"] = redis_url
    orgs = population(served, 12, "Breaker")
    script_fault(served.sim, CHARGE, "error", method="POST", count=20, status=503)
    ran = served.run("dunning", "retry-all", "--yes")  # the default breaker and concurrency
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "circuit breaker open" in ran.stdout
    resume = ran.stdout.split("resume with: ", 1)[1].split()
    assert resume[:4] == ["proaudit", "dunning", "retry-all", "--yes"] and resume[4] == "--after"
    k = Breaker().consecutive
    posts = [r for r in served.requests() if r["method"] == "POST"]
    assert [p["status"] for p in posts] == [503] * k  # K POSTs, then none
    with served.sim.connect() as conn:
        assert conn.execute(select(sim_faults.c.remaining)).scalar_one() == 20 - k
    assert served.sim_charges() == {}  # 503: nothing was charged
    clear_scripted_faults(served.sim)

    ids = [o["org"].record_id for o in orgs]
    cursor_id = resume[5].split("@", 1)[0]
    handled, rest = orgs[: ids.index(cursor_id) + 1], orgs[ids.index(cursor_id) + 1 :]
    assert rest, "the breaker stopped before the last record"
    frozen = {o["org"].name: org_state(served, o["org"].name) for o in handled}
    seen = len(served.requests())
    resumed = served.run(*resume[1:])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    touched = {r["reference"] for r in served.requests()[seen:]}
    for o in handled:  # before the cursor: untouched by the resumed run, at Paystack and in the DB
        assert org_state(served, o["org"].name) == frozen[o["org"].name]
        assert o["org"].paid_reference not in touched and expected_reference(o["before"]) not in touched
    charges = assert_no_double_charge(served)
    for o in rest:
        assert_db_agrees(served, o["org"].name, o["before"], charges[expected_reference(o["before"])][0])
    final = served.run("dunning", "retry-all", "--yes")  # from the start: the unknown ones, verified first
    assert final.returncode == 0, final.stdout + final.stderr
    charges = assert_no_double_charge(served)
    for o in orgs:
        assert_db_agrees(served, o["org"].name, o["before"], charges[expected_reference(o["before"])][0])
    assert_verified(served)
