"""The payment fix's plan on PostgreSQL and SQLite: the payment row and its subscription, one guarded
transaction, one audit record; what it leaves out (no subscription row, unusable metadata), and why."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from ent_helpers import YES, never, payment, sku_of
from sqlalchemy import Connection, Engine, delete, update

from proaudit_ops.audit import query
from proaudit_ops.core.entitlement import Entitlement, covers, period_end
from proaudit_ops.core.payments.diagnosis import Diagnosis, Finding
from proaudit_ops.core.payments.entitled import ENTITLED, NOT_ENTITLED, UNKNOWN, check, strongest
from proaudit_ops.core.payments.fix import build_plan, fix_changes
from proaudit_ops.core.payments.verify import VerifyResult, entitlement_of, with_entitlement
from proaudit_ops.core.payments.views import TxView, database_view
from proaudit_ops.db.engine import read_only
from proaudit_ops.db.schema import payment_transactions, tenant_skus
from proaudit_ops.errors import Refused
from proaudit_ops.protocols.guard import ApplyOptions, ChangeGuard, GuardResult
from proaudit_ops.protocols.plan import Plan
from proaudit_ops.sandbox.dataset import ORG_IDS

View = Callable[..., TxView]


def verified(engine: Engine, reference: str, ps: TxView, diagnosis: Diagnosis) -> VerifyResult:
    row = payment(engine, reference)
    return VerifyResult(reference, database_view(row), ps, diagnosis, "as diagnosed", None, True)


def fix(
    guard: ChangeGuard, reference: str, verify: VerifyResult, options: ApplyOptions = YES
) -> tuple[GuardResult, list[str]]:
    notes: list[str] = []

    def build(conn: Connection) -> Plan:
        notes.clear()
        return build_plan("test fix", reference, fix_changes(guard, conn, reference, verify, notes))

    return guard.execute(build, options, never), notes


def test_a_stuck_payment_and_its_subscription_are_one_plan_applied_together(
    guard: ChangeGuard, seeded: Engine, paystack_view_of: View, now: datetime
) -> None:
    ps = paystack_view_of("PSK-STUCK-0001")
    before = sku_of(seeded, "PSK-STUCK-0001")
    result, notes = fix(guard, "PSK-STUCK-0001", verified(seeded, "PSK-STUCK-0001", ps, Diagnosis.STUCK))
    assert result.outcome == "applied" and notes == []
    assert result.plan is not None
    assert [c.table for c in result.plan.changes] == ["payment_transactions", "tenant_skus"]
    paid = payment(seeded, "PSK-STUCK-0001")
    sku = sku_of(seeded, "PSK-STUCK-0001")
    assert paid["status"] == "success"
    # The period starts when the customer paid (Paystack's paid_at), not now, and ends by calendar.
    assert sku["current_period_start"].replace(tzinfo=None) == ps.paid_at.replace(tzinfo=None)  # type: ignore[union-attr]
    assert sku["current_period_end"].replace(tzinfo=None) == period_end(ps.paid_at, "monthly").replace(tzinfo=None)
    assert sku["updated_at"] != before["updated_at"]  # a touched column, set at apply
    assert check(paid, sku, ps._metadata, now).status == ENTITLED
    with read_only(seeded) as conn:
        records = [r for r in query(conn, since=None, incident=None, actor=None, target=None, limit=10)]
    applied = [r for r in records if r.outcome == "applied"]
    assert len(applied) == 1 and len(applied[0].before) == 2  # one record for both rows


def test_paid_not_entitled_plans_only_the_subscription(
    guard: ChangeGuard, seeded: Engine, paystack_view_of: View, now: datetime
) -> None:
    # What an older proaudit (or a hand-typed UPDATE) left: the payment success, the subscription in the past.
    ps = paystack_view_of("PSK-STUCK-0001")
    with seeded.begin() as conn:
        conn.execute(
            update(payment_transactions)
            .where(payment_transactions.c.reference == "PSK-STUCK-0001")
            .values(status="success", paid_at=ps.paid_at)
        )
    row = payment(seeded, "PSK-STUCK-0001")
    ent = check(row, sku_of(seeded, "PSK-STUCK-0001"), ps._metadata, now)
    assert ent.status == NOT_ENTITLED and ent.fixable
    consistent = with_entitlement(
        "PSK-STUCK-0001",
        Finding(Diagnosis.CONSISTENT, "Success on both sides.", None),
        ent,
    )
    assert consistent.diagnosis == Diagnosis.PAID_NOT_ENTITLED and consistent.fixable
    assert consistent.next_step is not None and "--fix" in consistent.next_step

    result, _ = fix(guard, "PSK-STUCK-0001", verified(seeded, "PSK-STUCK-0001", ps, Diagnosis.PAID_NOT_ENTITLED))
    assert result.plan is not None and [c.table for c in result.plan.changes] == ["tenant_skus"]
    assert check(payment(seeded, "PSK-STUCK-0001"), sku_of(seeded, "PSK-STUCK-0001"), ps._metadata, now).entitled
    again, _ = fix(guard, "PSK-STUCK-0001", verified(seeded, "PSK-STUCK-0001", ps, Diagnosis.PAID_NOT_ENTITLED))
    assert again.outcome == "nothing"  # entitled: nothing left to change


def test_two_plans_of_the_same_fix_are_the_same_plan(
    guard: ChangeGuard, seeded: Engine, paystack_view_of: View
) -> None:
    verify = verified(seeded, "PSK-STUCK-0001", paystack_view_of("PSK-STUCK-0001"), Diagnosis.STUCK)
    dry = ApplyOptions(dry_run=True)
    first, _ = fix(guard, "PSK-STUCK-0001", verify, dry)
    second, _ = fix(guard, "PSK-STUCK-0001", verify, dry)
    assert first.plan is not None and second.plan is not None
    assert first.plan.plan_hash == second.plan.plan_hash
    assert payment(seeded, "PSK-STUCK-0001")["status"] == "pending"  # a dry run writes nothing


def test_a_subscription_changed_after_planning_refuses_the_whole_plan(
    guard: ChangeGuard, seeded: Engine, paystack_view_of: View
) -> None:
    verify = verified(seeded, "PSK-STUCK-0001", paystack_view_of("PSK-STUCK-0001"), Diagnosis.STUCK)
    org = ORG_IDS["bluewave"]

    def meanwhile(_plan: Plan) -> bool:  # someone extends the subscription while the operator reads the plan
        with seeded.begin() as conn:
            conn.execute(update(tenant_skus).where(tenant_skus.c.organization_id == org).values(tier="enterprise"))
        return True

    def build(conn: Connection) -> Plan:
        return build_plan("test", "PSK-STUCK-0001", fix_changes(guard, conn, "PSK-STUCK-0001", verify, []))

    with pytest.raises(Refused, match="stale plan"):
        guard.execute(build, ApplyOptions(interactive=True), meanwhile)
    assert payment(seeded, "PSK-STUCK-0001")["status"] == "pending"  # neither row changed


def test_an_organization_without_a_subscription_row_gets_the_payment_fixed_and_a_note(
    guard: ChangeGuard, seeded: Engine, paystack_view_of: View, now: datetime
) -> None:
    with seeded.begin() as conn:
        conn.execute(delete(tenant_skus).where(tenant_skus.c.organization_id == ORG_IDS["bluewave"]))
    ps = paystack_view_of("PSK-STUCK-0001")
    result, notes = fix(guard, "PSK-STUCK-0001", verified(seeded, "PSK-STUCK-0001", ps, Diagnosis.STUCK))
    assert result.plan is not None and [c.table for c in result.plan.changes] == ["payment_transactions"]
    assert any("no tenant_skus row" in n for n in notes)
    after = check(payment(seeded, "PSK-STUCK-0001"), None, ps._metadata, now)
    assert after.status == NOT_ENTITLED and not after.fixable  # said, never silently done


def test_metadata_naming_another_organization_is_never_used(
    guard: ChangeGuard, seeded: Engine, paystack_view_of: View, now: datetime
) -> None:
    other = {"organization_id": ORG_IDS["adaeze"], "tier": "enterprise", "billing_cycle": "annual"}
    ps = paystack_view_of("PSK-STUCK-0001", metadata=other)
    row = payment(seeded, "PSK-STUCK-0001")
    ent = entitlement_of(Finding(Diagnosis.STUCK, "stuck.", "fix"), row, sku_of(seeded, "PSK-STUCK-0001"), ps)
    assert ent.status == UNKNOWN and "names organization" in ent.explanation
    before = sku_of(seeded, "PSK-STUCK-0001")
    result, notes = fix(guard, "PSK-STUCK-0001", verified(seeded, "PSK-STUCK-0001", ps, Diagnosis.STUCK))
    assert result.plan is not None and [c.table for c in result.plan.changes] == ["payment_transactions"]
    assert any("cannot tell what it bought" in n for n in notes)
    assert sku_of(seeded, "PSK-STUCK-0001") == before


def test_a_later_period_is_never_shortened_and_a_lower_tier_is_raised(
    guard: ChangeGuard, seeded: Engine, paystack_view_of: View, now: datetime
) -> None:
    later = now + timedelta(days=200)
    with seeded.begin() as conn:
        conn.execute(
            update(tenant_skus)
            .where(tenant_skus.c.organization_id == ORG_IDS["bluewave"])
            .values(tier="core", current_period_end=later)
        )
    ps = paystack_view_of("PSK-STUCK-0001")
    result, _ = fix(guard, "PSK-STUCK-0001", verified(seeded, "PSK-STUCK-0001", ps, Diagnosis.STUCK))
    assert result.outcome == "applied"
    sku = sku_of(seeded, "PSK-STUCK-0001")
    assert sku["tier"] == "professional"
    assert sku["current_period_end"].replace(tzinfo=None) == later.replace(tzinfo=None)


def test_several_payments_of_one_organization_make_one_change(now: datetime) -> None:
    def bought(tier: str, days_ago: int) -> Entitlement:
        start = now - timedelta(days=days_ago)
        return Entitlement("org", tier, "monthly", start, period_end(start, "monthly"), "metadata", f"R{days_ago}")

    merged = strongest([bought("enterprise", 10), bought("core", 1), bought("professional", 40)], now)
    assert merged.payment_reference == "R1"  # the period that ends last
    assert merged.tier == "enterprise"  # the highest tier still running (R40's period is over)
    assert covers(
        {"is_active": True, "tier": "enterprise", "current_period_end": merged.period_end}, merged, now
    ).covered


def test_a_partially_refunded_payment_is_never_re_entitled(
    seeded: Engine, paystack_view_of: View, now: datetime
) -> None:
    # A refund with --downgrade lowers the tier on purpose: the entitlement check must not call that a shortfall.
    with seeded.begin() as conn:
        conn.execute(update(tenant_skus).where(tenant_skus.c.organization_id == ORG_IDS["owerri"]).values(tier="core"))
    row = payment(seeded, "PSK-PARTIAL-0001")
    assert row["status"] == "success" and row["refund_amount_kobo"]
    ent = check(row, sku_of(seeded, "PSK-PARTIAL-0001"), paystack_view_of("PSK-PARTIAL-0001")._metadata, now)
    assert ent.status == "not_checked" and not ent.needs_fix and ent.entitled is None
