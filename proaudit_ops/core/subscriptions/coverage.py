"""Which successful payment pays for an activation (`subscriptions activate` / `convert-trial`).

The payments' metadata comes from Paystack (`MetadataLookup`: reference -> metadata), read
before the plan so that no HTTP call happens while rows are locked. Without a lookup (or for a
payment Paystack does not return metadata for) the subscription row's tier and cycle stand in,
as the entitlement contract says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.entitlement import (
    BillingMetadata,
    Entitlement,
    EntitlementError,
    bought,
    parse_metadata,
    period_end,
    subscription_row,
    tier_at_least,
)
from proaudit_ops.timeutil import as_utc

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from proaudit_ops.paystack import PaystackClient

MetadataLookup = Callable[[str], object]
CANDIDATES = 5  # the most recent successful payments looked at (one Paystack call each)


@dataclass(frozen=True)
class PaidPeriod:
    reference: str
    payment_id: str
    entitlement: Entitlement | None
    problem: str | None = None  # why its metadata could not be used


@dataclass(frozen=True)
class Covered:
    by: PaidPeriod
    start: datetime
    end: datetime


def paid_periods(engine: Engine, organization_id: str, metadata_for: MetadataLookup | None) -> list[PaidPeriod]:
    """What the organization's most recent successful payments bought, newest first."""
    from sqlalchemy import select

    from proaudit_ops.db.engine import read_only
    from proaudit_ops.db.schema import payment_transactions as pt

    with read_only(engine) as conn:
        sku = subscription_row(conn, organization_id)
        rows: list[dict[str, Any]] = [
            dict(r)
            for r in conn.execute(
                select(pt)
                .where(pt.c.organization_id == organization_id, pt.c.status == "success", pt.c.paid_at.is_not(None))
                .order_by(pt.c.paid_at.desc())
                .limit(CANDIDATES)
            ).mappings()
        ]
    out: list[PaidPeriod] = []
    for row in rows:
        paid_at = as_utc(row["paid_at"])
        assert paid_at is not None
        try:
            meta = parse_metadata(metadata_for(row["reference"])) if metadata_for else BillingMetadata()
            ent = bought(organization_id, meta, sku, paid_at, reference=row["reference"])
        except EntitlementError as exc:
            out.append(PaidPeriod(row["reference"], str(row["id"]), None, str(exc)))
            continue
        out.append(PaidPeriod(row["reference"], str(row["id"]), ent))
    return out


def covering_payment(
    periods: list[PaidPeriod], tier: str, cycle: str, start: datetime | None, now: datetime
) -> Covered | None:
    """The newest payment that bought `tier` (or higher) on `cycle` for a period that includes the new one.

    The new period starts at `start` (an operator's --from) or at the payment's paid_at, and must
    end no later than the period the payment bought, and after now.
    """
    for period in periods:
        ent = period.entitlement
        if ent is None or ent.billing_cycle != cycle or not tier_at_least(ent.tier, tier):
            continue
        begin = start or ent.period_start
        end = period_end(begin, cycle)
        if begin >= ent.period_start and end <= ent.period_end and end > now:
            return Covered(period, begin, end)
    return None


def paystack_lookup(client: Callable[[], PaystackClient]) -> MetadataLookup:
    """Metadata as Paystack returns it on verify; a transaction Paystack does not know has none."""
    from proaudit_ops.errors import PaystackNotFound

    def lookup(reference: str) -> object:
        try:
            return client().verify_transaction(reference).metadata
        except PaystackNotFound:
            return None

    return lookup
