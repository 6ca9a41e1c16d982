"""Is the customer entitled to what a payment bought? verify, fix, show and replay ask it here.

What a payment bought and what "covered" means are core/entitlement.py's (the metadata contract,
the calendar, `covers`). This module turns that into one answer per payment (`EntitlementCheck`)
and into the tenant_skus change that goes into a payment fix's plan, beside the payment row:
one guarded plan, one transaction (docs/entitlement.md says why not a replay).

The metadata always comes from a Paystack answer the caller already holds (the verify answer of
`payments verify`/`stuck --verify`, the list page of `webhooks gaps`): no HTTP call here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.entitlement import (
    TIER_RANK,
    Entitlement,
    EntitlementError,
    bought,
    covers,
    parse_metadata,
    subscription_state,
)
from proaudit_ops.timeutil import as_utc

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from proaudit_ops.protocols.guard import ChangeGuard
    from proaudit_ops.protocols.plan import RowChange

ENTITLED = "entitled"
NOT_ENTITLED = "not_entitled"
UNKNOWN = "unknown"  # the metadata is present but unusable: never guessed
NOT_APPLICABLE = "not_applicable"  # not a paid success: it buys nothing (yet)
NOT_CHECKED = "not_checked"  # the payment itself is in question (amount, currency, status mismatch)


@dataclass(frozen=True)
class EntitlementCheck:
    status: str  # entitled | not_entitled | unknown | not_applicable | not_checked
    explanation: str
    entitled: bool | None = None  # None unless the question applies and has an answer
    organization_id: str | None = None
    tier: str | None = None  # what the payment bought
    billing_cycle: str | None = None
    paid_from: datetime | None = None
    paid_until: datetime | None = None
    source: str | None = None  # metadata | tenant_sku | metadata+tenant_sku (core/entitlement.py)
    subscription_state: str | None = None  # active | trial | past_due | cancelled, as the row is
    subscription_tier: str | None = None
    current_period_end: datetime | None = None
    fixable: bool = False  # a tenant_skus row exists: a guarded change can make it cover the payment
    payment_status: str | None = None  # the payment row's status as checked
    _bought: Entitlement | None = field(default=None, repr=False, compare=False)

    @property
    def needs_fix(self) -> bool:
        return self.status == NOT_ENTITLED


def not_checked(why: str) -> EntitlementCheck:
    return EntitlementCheck(NOT_CHECKED, why)


def check(
    payment: Mapping[str, Any], sku: Mapping[str, Any] | None, metadata: object, now: datetime
) -> EntitlementCheck:
    """One payment row (as it is, or as a fix will leave it) against its organization's row. Pure."""
    status = payment.get("status")
    paid_at = as_utc(payment.get("paid_at"))
    row_view = {**_row_view(sku, now), "payment_status": status}
    if status != "success" or paid_at is None:
        what = "refunded: it buys nothing" if status == "refunded" else f"{status}: it buys nothing (yet)"
        return EntitlementCheck(NOT_APPLICABLE, f"the payment is {what}", **row_view)
    org = str(payment["organization_id"])
    if payment.get("refund_reference") or payment.get("refund_amount_kobo"):
        # A partial refund may have downgraded or cancelled on purpose (refunds issue --downgrade): never undo it.
        return EntitlementCheck(
            NOT_CHECKED,
            "partially refunded: the refund decided what it still buys (not checked, never auto-fixed)",
            organization_id=org,
            **row_view,
        )
    try:
        paid_for = bought(org, parse_metadata(metadata), sku, paid_at, reference=payment.get("reference"))
    except EntitlementError as exc:
        return EntitlementCheck(
            UNKNOWN, f"cannot tell what it bought: {exc}", organization_id=org, fixable=False, **row_view
        )
    coverage = covers(sku, paid_for, now)
    common: dict[str, Any] = {
        "organization_id": org,
        "tier": paid_for.tier,
        "billing_cycle": paid_for.billing_cycle,
        "paid_from": paid_for.period_start,
        "paid_until": paid_for.period_end,
        "source": paid_for.source,
        "_bought": paid_for,
        **row_view,
    }
    if coverage.covered:
        return EntitlementCheck(ENTITLED, coverage.explanation, entitled=True, **common)
    return EntitlementCheck(NOT_ENTITLED, coverage.explanation, entitled=False, fixable=sku is not None, **common)


def _row_view(sku: Mapping[str, Any] | None, now: datetime) -> dict[str, Any]:
    if sku is None:
        return {}
    return {
        "subscription_state": subscription_state(sku, now),
        "subscription_tier": sku.get("tier"),
        "current_period_end": as_utc(sku.get("current_period_end")),
    }


def check_now(engine: Engine, reference: str, metadata: object, now: datetime) -> EntitlementCheck:
    """The payment and its subscription as they are now (a read-only transaction, no HTTP)."""
    from proaudit_ops.core.entitlement import subscription_row
    from proaudit_ops.core.payments.views import read_payment_row
    from proaudit_ops.db.engine import read_only

    with read_only(engine) as conn:
        row = read_payment_row(conn, reference)
        sku = subscription_row(conn, str(row["organization_id"])) if row is not None else None
    if row is None:
        return EntitlementCheck(NOT_APPLICABLE, f"no payment {reference} in the database")
    return check(row, sku, metadata, now)


def strongest(purchases: Iterable[Entitlement], now: datetime) -> Entitlement:
    """Several payments of one organization in one plan: the period that ends last, the highest tier
    still running (one change per tenant_skus row; two would each be planned against the same row)."""
    items = sorted(purchases, key=lambda e: e.period_end)
    last = items[-1]
    running = [e for e in items if e.period_end > now] or [last]
    top = max(running, key=lambda e: TIER_RANK[e.tier])
    return replace(last, tier=top.tier) if top.tier != last.tier else last


def subscription_changes(
    guard: ChangeGuard, conn: Connection, purchases: list[Entitlement], now: datetime, notes: list[str]
) -> list[RowChange]:
    """The tenant_skus changes (one per organization, rows locked) that entitle `purchases`.

    An organization without a tenant_skus row cannot be entitled by an UPDATE: it is left out,
    and `notes` says so (the result after the fix shows it not entitled, exit 1).
    """
    from proaudit_ops.core.subscriptions.changes import coverage_change
    from proaudit_ops.errors import NotFoundError

    by_org: dict[str, list[Entitlement]] = {}
    for purchase in purchases:
        by_org.setdefault(purchase.organization_id, []).append(purchase)
    changes: list[RowChange] = []
    for org in sorted(by_org):  # a stable lock order across runs
        paid_for = strongest(by_org[org], now)
        try:
            change = coverage_change(guard, conn, paid_for, now)
        except NotFoundError as exc:
            notes.append(f"{paid_for.payment_reference}: {exc.message}: not entitled by this fix")
            continue
        if change is not None:
            changes.append(change)
    return changes


def purchase_after_fix(
    conn: Connection, payment: Mapping[str, Any], fixed_values: Mapping[str, Any], metadata: object, notes: list[str]
) -> Entitlement | None:
    """What the payment buys once the fix's values are applied (None: nothing, or unusable metadata)."""
    from proaudit_ops.core.entitlement import entitlement_for_payment

    try:
        return entitlement_for_payment(conn, {**payment, **fixed_values}, metadata)
    except EntitlementError as exc:
        notes.append(f"{payment.get('reference')}: cannot tell what it bought ({exc}): subscription left alone")
        return None
