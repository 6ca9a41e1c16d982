"""The reliability proof on PostgreSQL with the served simulator: SIGKILL at every refund crash
point then a rerun, a lost response adopted on the rerun, and two processes racing 50 times."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from typing import Any

import pytest
from proaudit_fixtures import Served

from proaudit_ops.sandbox.faults import script_fault

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REF = "PSK-ELIGIBLE-0001"
FULL = 15_000_000
ISSUE = ["refunds", "issue", REF, "--reason", "customer request", "--yes"]
POINTS = ["refund:after_intent", "refund:before_post", "refund:after_post", "refund:after_record"]


def assert_exactly_one_refund(served: Served) -> None:
    refunds = served.sim_refunds(REF)
    assert len(refunds) == 1, refunds
    refund = refunds[0]
    assert refund["amount"] == FULL
    row = served.payment(REF)
    assert row["refund_reference"] == str(refund["id"])
    assert row["refund_amount_kobo"] == FULL
    assert row["status"] == "refunded"
    assert row["refunded_at"] is not None
    intents = served.intents()
    assert [(i["state"], i["external_id"]) for i in intents] == [("done", str(refund["id"]))]
    verified = served.run("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_each_refund_point_then_rerun(served: Served, point: str) -> None:
    killed = served.run(*ISSUE, extra={"PROAUDIT_CRASH_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    posted = point in ("refund:after_post", "refund:after_record")
    assert len(served.sim_refunds(REF)) == (1 if posted else 0)
    assert served.run("audit", "verify").returncode == 0
    rerun = served.run(*ISSUE)
    if point == "refund:after_record":  # it was all done: the rerun sends nothing and says so
        assert rerun.returncode == 4, rerun.stderr
        assert "already refunded" in rerun.stderr
    else:
        assert rerun.returncode == 0, rerun.stderr
    assert_exactly_one_refund(served)
    again = served.run(*ISSUE)  # a second identical issue makes no second refund
    assert again.returncode == 4
    assert len(served.sim_refunds(REF)) == 1


def test_sigkill_then_resume_finishes_it(served: Served) -> None:
    assert served.run(*ISSUE, extra={"PROAUDIT_CRASH_AT": "refund:after_post"}).returncode == -signal.SIGKILL
    resumed = served.run("refunds", "resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "found at Paystack and recorded (no POST)" in resumed.stdout
    assert_exactly_one_refund(served)


def test_lost_response_is_adopted_on_the_rerun(served: Served) -> None:
    script_fault(served.sim, "/refund", "drop", method="POST")
    lost = served.run(*ISSUE)
    assert lost.returncode == 5, lost.stderr
    [intent] = served.intents()
    assert intent["state"] == "unknown"
    assert f"proaudit refunds resume {intent['op_key']}" in lost.stderr
    assert len(served.sim_refunds(REF)) == 1  # the simulator applied it, the answer was dropped
    assert served.payment(REF)["refund_reference"] is None
    rerun = served.run("refunds", "resume", intent["op_key"])
    assert rerun.returncode == 0, rerun.stderr
    assert "no POST" in rerun.stdout
    assert_exactly_one_refund(served)
    [after] = served.intents()
    assert after["attempts"] == 1  # one POST in all


def test_lost_response_then_identical_issue_adopts_too(served: Served) -> None:
    script_fault(served.sim, "/refund", "drop", method="POST")
    assert served.run(*ISSUE).returncode == 5
    rerun = served.run(*ISSUE)
    assert rerun.returncode == 0, rerun.stderr
    assert_exactly_one_refund(served)


# -- two processes, the same refund, the same moment ----------------------------------------------

TRIALS = 50


def _racer(args: list[str], env: dict[str, str], barrier: Any, out: Any) -> None:
    os.environ.clear()
    os.environ.update(env)
    from typer.testing import CliRunner

    from proaudit_ops.cli.app import app

    try:
        barrier.wait(timeout=30)
        started = time.monotonic()
        result = CliRunner().invoke(app, args, catch_exceptions=True)
        out.put((result.exit_code, time.monotonic() - started, result.stderr[-300:]))
    except BaseException as exc:
        out.put((-1, 0.0, repr(exc)))
    finally:
        os._exit(0)  # no cleanup of connections inherited from the parent


def test_two_processes_race_fifty_times(served: Served) -> None:
    from typer.testing import CliRunner

    from proaudit_ops.cli.app import app

    lock_timeout_s = 2.0
    # A slow answer on a loaded machine is not what this test is about: a generous Paystack timeout.
    env = {**served.env, "PROAUDIT_LOCK_TIMEOUT_MS": str(int(lock_timeout_s * 1000)), "PAYSTACK_TIMEOUT_SECONDS": "60"}
    saved = dict(os.environ)
    os.environ.update(env)
    try:  # one warm-up run in this process: every module the racers need is imported before forking
        assert CliRunner().invoke(app, ["refunds", "check", REF]).exit_code == 0
    finally:
        os.environ.clear()
        os.environ.update(saved)
    served.billing.dispose()
    served.sim.dispose()
    ctx = multiprocessing.get_context("fork")
    for trial in range(TRIALS):
        args = ["refunds", "issue", REF, "--amount-kobo", str(1000 + trial), "--reason", f"race {trial}", "--yes"]
        barrier = ctx.Barrier(2)
        out = ctx.SimpleQueue()  # put() is synchronous: nothing is lost at os._exit
        procs = [ctx.Process(target=_racer, args=(args, env, barrier, out)) for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0  # no deadlock: both came back
        results = [out.get() for _ in procs]
        codes = sorted(code for code, _, _ in results)
        assert codes == [0, 4], results
        loser = next(r for r in results if r[0] == 4)
        assert loser[1] < lock_timeout_s + 10, loser  # refused without waiting past the lock timeout (slack: 2 cores)
    refunds = served.sim_refunds(REF)
    assert len(refunds) == TRIALS
    assert sorted(r["amount"] for r in refunds) == [1000 + t for t in range(TRIALS)]
    row = served.payment(REF)
    assert row["refund_amount_kobo"] == sum(1000 + t for t in range(TRIALS))
    assert {i["state"] for i in served.intents()} == {"done"}
    assert served.run("audit", "verify").returncode == 0
