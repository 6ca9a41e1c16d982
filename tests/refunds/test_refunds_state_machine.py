"""A hypothesis state machine over {issue, partial issue, crash, lost answer, resume,
refund.processed webhook}, on PostgreSQL with the served simulator. After every step: refunds
never exceed the capture, at most one refund per op key (per amount: one op key), every `refunded`
row names a Paystack refund; after a final resume Paystack and the database agree exactly."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from proaudit_fixtures import Served
from sqlalchemy import delete, text, update

from proaudit_ops.errors import ProauditError

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REF = "PSK-ELIGIBLE-0001"
CAPTURE = 15_000_000
POINTS = ["refund:after_intent", "refund:before_post", "refund:after_post", "refund:after_record"]


class Crash(BaseException):
    """Stands in for SIGKILL: nothing after the crash point runs (open transactions roll back)."""


def test_refund_state_machine(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    import proaudit_ops.protocols.intents as intents
    from proaudit_ops.config import load_settings
    from proaudit_ops.core.refunds.issue import RefundRequest, issue_refund, resume_refunds
    from proaudit_ops.paystack.signatures import compute_signature
    from proaudit_ops.protocols.guard import ApplyOptions
    from proaudit_ops.runtime import Runtime
    from proaudit_ops.sandbox.faults import clear_scripted_faults, script_fault
    from proaudit_ops.sandbox.shapes import refund_processed_event
    from proaudit_ops.sandbox.sim_refunds import set_refund_status
    from proaudit_ops.sandbox.state import dumps, sim_refunds, sim_transactions

    for name, value in served.env.items():
        monkeypatch.setenv(name, value)
    crash_at: dict[str, str | None] = {"point": None}

    def fake_crash_point(name: str) -> None:
        if crash_at["point"] == name:
            crash_at["point"] = None
            raise Crash(name)

    monkeypatch.setattr(intents, "crash_point", fake_crash_point)
    yes = ApplyOptions(assume_yes=True)

    def runtime() -> Runtime:
        return Runtime(load_settings(), argv=["proaudit", "refunds"])

    def attempt(call: Any) -> None:
        try:
            with runtime() as rt:
                call(rt)
        except Crash:
            pass
        except ProauditError as exc:
            if exc.exit_code not in (2, 4, 5):  # refused, bad input or unknown; never unavailable or a bug
                raise

    class RefundMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            crash_at["point"] = None
            clear_scripted_faults(served.sim)
            with served.billing.begin() as conn:
                conn.execute(text("DELETE FROM ops_intents"))
                conn.execute(
                    text(
                        "UPDATE payment_transactions SET status = 'success', refund_reference = NULL, "
                        "refund_amount_kobo = NULL, refunded_at = NULL WHERE reference = :r"
                    ),
                    {"r": REF},
                )
            with served.sim.begin() as conn:
                conn.execute(delete(sim_refunds).where(sim_refunds.c.transaction_reference == REF))
                conn.execute(
                    update(sim_transactions).where(sim_transactions.c.reference == REF).values(status="success")
                )

        @rule(crash=st.sampled_from([None, *POINTS]))
        def issue(self, crash: str | None) -> None:
            crash_at["point"] = crash
            attempt(lambda rt: issue_refund(rt, RefundRequest(REF, "state machine"), yes, lambda _p: True))

        @rule(
            amount=st.sampled_from([1_000_000, 2_500_000, 5_000_000, 9_000_000]), crash=st.sampled_from([None, *POINTS])
        )
        def partial_issue(self, amount: int, crash: str | None) -> None:
            crash_at["point"] = crash
            request = RefundRequest(REF, "partial", amount_kobo=amount)
            attempt(lambda rt: issue_refund(rt, request, yes, lambda _p: True))

        @rule()
        def lose_the_next_answer(self) -> None:
            script_fault(served.sim, "/refund", "drop", method="POST")

        @rule(crash=st.sampled_from([None, *POINTS]))
        def resume(self, crash: str | None) -> None:
            crash_at["point"] = crash
            attempt(lambda rt: resume_refunds(rt, None))

        @rule(data=st.data())
        def refund_processed_webhook(self, data: st.DataObject) -> None:
            refunds = served.sim_refunds(REF)
            pending = [r for r in refunds if r["status"] != "processed"]
            if not pending:
                return
            refund = data.draw(st.sampled_from(pending))
            set_refund_status(served.sim, int(refund["id"]), "processed")
            body = dumps(refund_processed_event({**refund, "status": "processed"}, {"email": "x@eko.ng"})).encode()
            from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY

            headers = {"x-paystack-signature": compute_signature(body, SANDBOX_SECRET_KEY)}
            httpx.post(served.url + "/api/v1/billing/webhook/paystack", content=body, headers=headers, timeout=30)

        @invariant()
        def money_is_consistent(self) -> None:
            refunds = [r for r in served.sim_refunds(REF) if r["status"] != "failed"]
            assert sum(int(r["amount"]) for r in refunds) <= CAPTURE
            intents_ = served.intents()
            by_amount: dict[int, int] = {}
            for r in refunds:
                by_amount[int(r["amount"])] = by_amount.get(int(r["amount"]), 0) + 1
            keys_by_amount: dict[int, int] = {}
            for i in intents_:
                amount = int(json.loads(i["params"])["amount"])
                keys_by_amount[amount] = keys_by_amount.get(amount, 0) + 1
            for amount, count in by_amount.items():
                assert count <= keys_by_amount.get(amount, 0), (amount, refunds, intents_)  # one refund per op key
            done_ids = [i["external_id"] for i in intents_ if i["state"] == "done"]
            assert len(done_ids) == len(set(done_ids))
            row = served.payment(REF)
            ids = {str(r["id"]) for r in refunds}
            if row["status"] == "refunded":
                assert row["refund_reference"] in ids
            assert int(row["refund_amount_kobo"] or 0) <= CAPTURE
            done_total = sum(int(json.loads(i["params"])["amount"]) for i in intents_ if i["state"] == "done")
            assert int(row["refund_amount_kobo"] or 0) == done_total

        def teardown(self) -> None:
            crash_at["point"] = None
            clear_scripted_faults(served.sim)
            attempt(lambda rt: resume_refunds(rt, None))
            intents_ = served.intents()
            assert {i["state"] for i in intents_} <= {"done", "failed"}
            refunds = [r for r in served.sim_refunds(REF) if r["status"] != "failed"]
            assert sorted(str(r["id"]) for r in refunds) == sorted(
                str(i["external_id"]) for i in intents_ if i["state"] == "done"
            )  # nothing at Paystack that the database does not know, and the reverse

    RefundMachine.TestCase.settings = settings(
        max_examples=12,
        stateful_step_count=6,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    RefundMachine.TestCase().runTest()
