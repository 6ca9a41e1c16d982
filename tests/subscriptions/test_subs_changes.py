"""Subscription changes through the change guard, on PostgreSQL and SQLite, over the seeded tenants."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update
from subs_helpers import DRY, YES, never

from proaudit_ops.audit import query
from proaudit_ops.core.entitlement import covers, entitlement_for_payment, period_end, subscription_row
from proaudit_ops.core.subscriptions.changes import ChangeRequest, SubscriptionChange, change_subscription
from proaudit_ops.core.subscriptions.orgs import resolve_organization
from proaudit_ops.core.subscriptions.view import list_subscriptions, show_subscription
from proaudit_ops.db.engine import read_only
from proaudit_ops.db.schema import organizations, payment_transactions, tenant_skus
from proaudit_ops.errors import NotFoundError, Refused, UsageError
from proaudit_ops.protocols.guard import ApplyOptions, ChangeGuard
from proaudit_ops.protocols.plan import Plan
from proaudit_ops.sandbox.dataset import ORG_IDS, RECONCILE_CASES
from proaudit_ops.timeutil import as_utc

Lookup = Callable[[str], object]


def _sku(engine: Engine, slug: str) -> dict[str, Any]:
    with read_only(engine) as conn:
        row = subscription_row(conn, ORG_IDS[slug])
    assert row is not None
    return row


def _change(
    guard: ChangeGuard,
    org: str,
    request: ChangeRequest,
    now: datetime,
    metadata_for: Lookup | None = None,
    options: ApplyOptions = YES,
) -> SubscriptionChange:
    return change_subscription(
        guard.engine, guard, org, request, options, never, metadata_for=metadata_for, now=now, show_sql=True
    )


def _mark_paid(engine: Engine, reference: str, paid_at: datetime) -> None:
    """What `payments verify --fix` does to the payment row (and nothing to the subscription)."""
    with engine.begin() as conn:
        conn.execute(
            update(payment_transactions)
            .where(payment_transactions.c.reference == reference)
            .values(status="success", paid_at=paid_at, updated_at=paid_at)
        )


def test_the_seed_is_entitled_except_where_a_payment_is_stuck(
    seeded: Engine, now: datetime, metadata_for: Lookup
) -> None:
    with read_only(seeded) as conn:
        paid = conn.execute(select(payment_transactions).where(payment_transactions.c.status == "success")).mappings()
        for row in [dict(p) for p in paid]:
            if row["reference"] in RECONCILE_CASES["paid_not_entitled"]:
                continue  # seeded on purpose for `reconcile` (issue 9): paid, still a trial
            bought = entitlement_for_payment(conn, row, metadata_for(row["reference"]))
            assert bought is not None and bought.source == "metadata", row["reference"]
            sku = subscription_row(conn, str(row["organization_id"]))
            assert covers(sku, bought, now).covered, (row["reference"], covers(sku, bought, now).explanation)
    _mark_paid(seeded, "PSK-STUCK-0001", now - timedelta(hours=2))
    with read_only(seeded) as conn:
        row = conn.execute(select(payment_transactions).where(payment_transactions.c.reference == "PSK-STUCK-0001"))
        payment = dict(row.mappings().one())
        bought = entitlement_for_payment(conn, payment, metadata_for("PSK-STUCK-0001"))
        assert bought is not None
        coverage = covers(subscription_row(conn, ORG_IDS["bluewave"]), bought, now)
    assert not coverage.covered  # paid, not entitled: what `payments verify` will report
    assert "current_period_end" in coverage.explanation


def test_activate_is_refused_until_a_payment_covers_it_then_uses_paid_at(
    guard: ChangeGuard, seeded: Engine, now: datetime, metadata_for: Lookup
) -> None:
    request = ChangeRequest("activate", tier="professional", cycle="monthly")
    before = _sku(seeded, "bluewave")
    with pytest.raises(Refused, match="no successful payment of Bluewave Logistics covers professional monthly"):
        _change(guard, "Bluewave Logistics", request, now, metadata_for)
    assert _sku(seeded, "bluewave") == before
    paid_at = (now - timedelta(hours=2)).replace(microsecond=0)
    _mark_paid(seeded, "PSK-STUCK-0001", paid_at)

    planned = _change(guard, "PSK-STUCK-0001", request, now, metadata_for, options=DRY)
    assert (planned.outcome, planned.state_before, planned.state_after) == ("planned", "past_due", "active")
    assert planned.sql and "UPDATE tenant_skus" in planned.sql[0]
    assert _sku(seeded, "bluewave") == before

    done = _change(guard, "PSK-STUCK-0001", request, now, metadata_for)
    assert (done.outcome, done.covered_by, done.state_after) == ("applied", "PSK-STUCK-0001", "active")
    after = _sku(seeded, "bluewave")
    assert as_utc(after["current_period_start"]) == paid_at
    assert as_utc(after["current_period_end"]) == period_end(paid_at, "monthly")
    with read_only(seeded) as conn:
        records = {r.outcome: r for r in query(conn, limit=100)}
    assert (records["applied"].action, records["applied"].target) == ("subscriptions.activate", ORG_IDS["bluewave"])
    assert isinstance(records["planned"].after, dict)
    assert "paid by PSK-STUCK-0001" in records["planned"].after["reason"]

    again = _change(guard, "Bluewave Logistics", request, now, metadata_for)
    assert again.outcome == "nothing"  # already what the payment bought


def test_activate_a_tier_the_payment_did_not_buy_needs_a_reason(
    guard: ChangeGuard, seeded: Engine, now: datetime, metadata_for: Lookup
) -> None:
    request = ChangeRequest("activate", tier="enterprise", cycle="monthly")
    with pytest.raises(Refused, match="looked at PSK-ELIGIBLE-0001"):
        _change(guard, "Eko Bakery Ltd", request, now, metadata_for)
    start = now - timedelta(days=1)
    shifted = ChangeRequest("activate", tier="professional", cycle="monthly", start=start)
    with pytest.raises(Refused, match="from"):  # a period the payment did not pay for
        _change(guard, "Eko Bakery Ltd", shifted, now, metadata_for)
    reasoned = ChangeRequest("activate", tier="enterprise", cycle="annual", start=start, reason="sales deal #12")
    done = _change(guard, "Eko Bakery Ltd", reasoned, now, metadata_for)
    assert (done.outcome, done.covered_by) == ("applied", None)
    sku = _sku(seeded, "eko")
    assert (sku["tier"], sku["billing_cycle"]) == ("enterprise", "annual")
    assert as_utc(sku["current_period_end"]) == period_end(start, "annual")
    assert "reason: sales deal #12" in done.guard.plan.reason  # type: ignore[union-attr]


def test_activate_without_metadata_falls_back_to_the_row(guard: ChangeGuard, seeded: Engine, now: datetime) -> None:
    _mark_paid(seeded, "PSK-STUCK-0001", now - timedelta(hours=2))
    request = ChangeRequest("activate", tier="professional", cycle="monthly")
    assert _change(guard, "Bluewave Logistics", request, now, metadata_for=None).outcome == "applied"


def test_convert_trial(guard: ChangeGuard, seeded: Engine, now: datetime, metadata_for: Lookup) -> None:
    with pytest.raises(Refused, match="it has no successful payment"):
        _change(guard, "Kora Health Clinics", ChangeRequest("convert_trial"), now, metadata_for)
    paid_at = now - timedelta(hours=6)
    _mark_paid(seeded, "PSK-STUCK-0002", paid_at)
    done = _change(guard, "PSK-STUCK-0002", ChangeRequest("convert_trial"), now, metadata_for)
    assert (done.state_before, done.state_after) == ("trial", "active")
    sku = _sku(seeded, "kora")
    assert sku["trial_ends_at"] is None
    assert as_utc(sku["current_period_end"]) == period_end(paid_at, "monthly")
    with pytest.raises(Refused, match="not a trial"):
        _change(guard, "Adaeze Foods Ltd", ChangeRequest("convert_trial", reason="x"), now, metadata_for)


def test_extend_gives_bounded_grace(guard: ChangeGuard, seeded: Engine, now: datetime) -> None:
    end = as_utc(_sku(seeded, "yola")["current_period_end"])
    assert end is not None
    done = _change(guard, "Yola Water Services", ChangeRequest("extend", days=10, reason="bank outage"), now)
    assert as_utc(_sku(seeded, "yola")["current_period_end"]) == end + timedelta(days=10)
    assert done.state_after == "active"
    past_due = _change(guard, "Sahel Agro Cooperative", ChangeRequest("extend", days=3, reason="grace"), now)
    assert as_utc(_sku(seeded, "sahel")["current_period_end"]) == now + timedelta(days=3)
    assert (past_due.state_before, past_due.state_after) == ("past_due", "active")
    for days in (0, 61, -1):
        with pytest.raises(UsageError, match="--days must be between 1 and 60"):
            _change(guard, "Yola Water Services", ChangeRequest("extend", days=days, reason="x"), now)
    with pytest.raises(UsageError, match="needs --reason"):
        _change(guard, "Yola Water Services", ChangeRequest("extend", days=3), now)
    with pytest.raises(Refused, match="cancelled"):
        _change(guard, "Delta Freight Partners", ChangeRequest("extend", days=3, reason="x"), now)


def test_set_tier_and_cancel(guard: ChangeGuard, seeded: Engine, now: datetime) -> None:
    with pytest.raises(UsageError, match="unknown tier 'gold'"):
        _change(guard, "Eko Bakery Ltd", ChangeRequest("set_tier", tier="gold", reason="x"), now)
    _change(guard, "Eko Bakery Ltd", ChangeRequest("set_tier", tier="core", reason="downgrade asked"), now)
    assert _sku(seeded, "eko")["tier"] == "core"
    same = _change(guard, "Eko Bakery Ltd", ChangeRequest("set_tier", tier="core", reason="x"), now)
    assert same.outcome == "nothing"

    with pytest.raises(UsageError, match="only --at-period-end"):
        _change(guard, "Eko Bakery Ltd", ChangeRequest("cancel", reason="x", at_period_end=False), now)
    done = _change(guard, "Eko Bakery Ltd", ChangeRequest("cancel", reason="moving to a competitor"), now)
    sku = _sku(seeded, "eko")
    assert (sku["cancel_at_period_end"], sku["cancellation_reason"], sku["is_active"]) == (
        True,
        "moving to a competitor",
        True,
    )
    assert done.state_after == "active"  # until the period ends
    with pytest.raises(Refused, match="already cancelled"):
        _change(guard, "Obi Motors", ChangeRequest("cancel", reason="x"), now)


def test_a_saved_plan_goes_stale_when_the_row_changes(
    guard: ChangeGuard, seeded: Engine, now: datetime, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    request = ChangeRequest("extend", days=5, reason="grace")
    _change(guard, "Yola Water Services", request, now, options=ApplyOptions(plan_out=plan_file))
    _change(guard, "Yola Water Services", ChangeRequest("set_tier", tier="enterprise", reason="x"), now)
    with pytest.raises(Refused, match="stale plan"):
        guard.apply_saved(Plan.load(plan_file, guard.plan_key()), YES, never)


def test_org_is_a_uuid_an_exact_name_or_a_payment_reference(seeded: Engine, now: datetime) -> None:
    with read_only(seeded) as conn:
        assert resolve_organization(conn, ORG_IDS["eko"])["name"] == "Eko Bakery Ltd"
        assert resolve_organization(conn, ORG_IDS["eko"].upper())["name"] == "Eko Bakery Ltd"
        assert resolve_organization(conn, " Eko Bakery Ltd ")["id"] == ORG_IDS["eko"]
        assert resolve_organization(conn, "PSK-ELIGIBLE-0001")["id"] == ORG_IDS["eko"]
        with pytest.raises(NotFoundError, match="no organization with the id, name or payment reference"):
            resolve_organization(conn, "eko bakery ltd")
        with pytest.raises(NotFoundError, match="no organization with id"):
            resolve_organization(conn, str(uuid.uuid4()))
        with pytest.raises(UsageError, match="not an organization"):
            resolve_organization(conn, "x\x00y")
    twin = str(uuid.uuid4())
    with seeded.begin() as conn:
        conn.execute(insert(organizations).values(id=twin, name="Eko Bakery Ltd", created_at=now, updated_at=now))
    with read_only(seeded) as conn, pytest.raises(UsageError, match="2 organizations are named") as caught:
        resolve_organization(conn, "Eko Bakery Ltd")
    assert twin in caught.value.message and ORG_IDS["eko"] in caught.value.message


def test_list_by_state_and_expiring(seeded: Engine, now: datetime) -> None:
    every = list_subscriptions(seeded, now=now)
    assert {i.state for i in every.items} == {"active", "trial", "past_due", "cancelled"}
    names = {state: {i.name for i in list_subscriptions(seeded, state=state, now=now).items} for state in
             ("active", "trial", "past_due", "cancelled")}  # fmt: skip
    assert "Adaeze Foods Ltd" in names["active"] and "Kora Health Clinics" in names["trial"]
    assert "Bluewave Logistics" in names["past_due"] and "Delta Freight Partners" in names["cancelled"]
    expiring = list_subscriptions(seeded, state="expiring", within=timedelta(days=7), now=now)
    assert [i.name for i in expiring.items] == ["Yola Water Services"]
    with pytest.raises(UsageError, match="unknown state"):
        list_subscriptions(seeded, state="paused", now=now)
    with pytest.raises(UsageError, match="--within only goes with --state expiring"):
        list_subscriptions(seeded, state="active", within=timedelta(days=1), now=now)


def test_show_gathers_the_organization(guard: ChangeGuard, seeded: Engine, now: datetime) -> None:
    _change(guard, "Nnamdi & Sons Hardware", ChangeRequest("extend", days=2, reason="grace"), now)
    shown = show_subscription(seeded, "Nnamdi & Sons Hardware", now=now)
    assert shown.state == "active"
    assert {p["reference"] for p in shown.payments} >= {"PSK-FAILED-0001", "PSK-HIST-0005"}
    assert [d["status"] for d in shown.dunning] == ["active"]
    assert [r.action for r in shown.audit if r.outcome == "applied"] == ["subscriptions.extend"]
    with read_only(seeded) as conn:
        sku = conn.execute(select(tenant_skus).where(tenant_skus.c.organization_id == ORG_IDS["nnamdi"])).mappings()
        assert shown.subscription == dict(sku.one())


def test_coverage_change_fixes_payment_and_entitlement_in_one_plan(
    guard: ChangeGuard, seeded: Engine, now: datetime, metadata_for: Lookup
) -> None:
    """The shape the payments fix will take: the payment row and the subscription in one guarded plan."""
    from proaudit_ops.core.subscriptions.changes import coverage_change
    from proaudit_ops.protocols.plan import RowChange

    pt = payment_transactions
    paid_at = now - timedelta(hours=2)

    def build(conn: Any) -> Plan:
        (row,) = guard.lock_rows(conn, pt, pt.c.reference == "PSK-STUCK-0001")
        fixed = {"status": "success", "paid_at": paid_at, "updated_at": now}
        bought = entitlement_for_payment(conn, {**row, **fixed}, metadata_for("PSK-STUCK-0001"))
        assert bought is not None
        sub = coverage_change(guard, conn, bought, now)
        assert sub is not None
        pay = RowChange(pt.name, {"id": row["id"]}, {"status": "pending"}, fixed, row, "PSK-STUCK-0001")
        return Plan("payments.fix", "stuck", (pay, sub), now, "PSK-STUCK-0001")

    result = guard.execute(build, YES, never)
    assert (result.outcome, len(result.rows)) == ("applied", 2)
    sku = _sku(seeded, "bluewave")
    assert as_utc(sku["current_period_end"]) == period_end(paid_at, "monthly")
    with read_only(seeded) as conn:
        payment = dict(conn.execute(select(pt).where(pt.c.reference == "PSK-STUCK-0001")).mappings().one())
        bought = entitlement_for_payment(conn, payment, metadata_for("PSK-STUCK-0001"))
        assert bought is not None
        assert covers(subscription_row(conn, ORG_IDS["bluewave"]), bought, now).covered
    with seeded.connect() as conn, conn.begin():
        assert coverage_change(guard, conn, bought, now) is None  # already covered: nothing to add


def test_coverage_change_never_shortens_a_later_period(guard: ChangeGuard, seeded: Engine, now: datetime) -> None:
    from proaudit_ops.core.entitlement import Entitlement
    from proaudit_ops.core.subscriptions.changes import coverage_change

    with seeded.begin() as conn:
        conn.execute(
            update(tenant_skus).where(tenant_skus.c.organization_id == ORG_IDS["zenith"]).values(is_active=False)
        )
    before = _sku(seeded, "zenith")
    paid = Entitlement(ORG_IDS["zenith"], "professional", "monthly", now, period_end(now, "monthly"), "metadata")
    with seeded.connect() as conn, conn.begin():
        change = coverage_change(guard, conn, paid, now)
    assert change is not None
    assert set(change.new_values) == {"is_active"}  # enterprise annual, ending later: kept
    assert change.touch == ("updated_at",)
    assert before["tier"] == "enterprise"
