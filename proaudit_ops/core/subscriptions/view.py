"""`subscriptions show ORG` and `subscriptions list`: read-only views of tenant_skus and around it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.entitlement import STATES, expiring_within, subscription_state
from proaudit_ops.core.subscriptions.orgs import resolve_organization
from proaudit_ops.errors import UsageError
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from proaudit_ops.audit import AuditRecord

LIST_STATES = (*STATES, "expiring")
DEFAULT_WITHIN = timedelta(days=7)
MAX_WITHIN = timedelta(days=366)
RECENT = 10
AUDIT_LIMIT = 50


@dataclass(frozen=True)
class SubscriptionDetails:
    organization: dict[str, Any]
    subscription: dict[str, Any] | None  # the tenant_skus row
    state: str | None  # active | trial | past_due | cancelled (None without a row)
    payments: list[dict[str, Any]]  # newest first
    dunning: list[dict[str, Any]]  # newest first
    audit: list[AuditRecord]  # oldest first: changes to the subscription and to its payments
    now: datetime


def show_subscription(engine: Engine, org: str, *, now: datetime | None = None) -> SubscriptionDetails:
    from proaudit_ops.db.engine import read_only

    now = now or utcnow()
    with read_only(engine) as conn:
        organization = resolve_organization(conn, org)
        return details(conn, organization, now)


def details(conn: Connection, organization: dict[str, Any], now: datetime) -> SubscriptionDetails:
    from sqlalchemy import select

    from proaudit_ops.audit import AuditRecord
    from proaudit_ops.db.schema import dunning_records, ops_audit_log, payment_transactions, tenant_skus

    org_id = organization["id"]
    sku = conn.execute(select(tenant_skus).where(tenant_skus.c.organization_id == org_id)).mappings().first()
    pt, dr, log = payment_transactions.c, dunning_records.c, ops_audit_log.c
    payments = conn.execute(
        select(payment_transactions).where(pt.organization_id == org_id).order_by(pt.created_at.desc()).limit(RECENT)
    ).mappings()
    dunning = conn.execute(
        select(dunning_records).where(dr.organization_id == org_id).order_by(dr.created_at.desc()).limit(RECENT)
    ).mappings()
    payment_list = [dict(p) for p in payments]
    targets = [str(org_id), *(p["reference"] for p in payment_list)]
    trail = conn.execute(
        select(ops_audit_log).where(log.target.in_(targets)).order_by(log.seq.desc()).limit(AUDIT_LIMIT)
    ).mappings()
    return SubscriptionDetails(
        organization=organization,
        subscription=dict(sku) if sku is not None else None,
        state=subscription_state(sku, now) if sku is not None else None,
        payments=payment_list,
        dunning=[dict(d) for d in dunning],
        audit=[AuditRecord.from_row(r) for r in reversed(list(trail))],
        now=now,
    )


@dataclass(frozen=True)
class SubscriptionItem:
    organization_id: str
    name: str
    tier: str
    billing_cycle: str
    state: str
    current_period_end: datetime | None
    trial_ends_at: datetime | None
    cancel_at_period_end: bool


@dataclass(frozen=True)
class SubscriptionList:
    state: str | None
    within: timedelta | None
    now: datetime
    items: list[SubscriptionItem] = field(default_factory=list)


def list_subscriptions(
    engine: Engine,
    *,
    state: str | None = None,
    within: timedelta | None = None,
    now: datetime | None = None,
) -> SubscriptionList:
    """Every subscription, or those in `state`; `expiring` = active or trial, ending within `within`."""
    from sqlalchemy import select

    from proaudit_ops.db.engine import read_only
    from proaudit_ops.db.schema import organizations, tenant_skus

    if state is not None and state not in LIST_STATES:
        raise UsageError(f"unknown state {state!r}", hint=f"one of {', '.join(LIST_STATES)}")
    if within is not None and state != "expiring":
        raise UsageError("--within only goes with --state expiring")
    if state == "expiring":
        within = within or DEFAULT_WITHIN
        if not timedelta(0) < within <= MAX_WITHIN:
            raise UsageError(f"--within must be between 1s and {MAX_WITHIN.days}d")
    now = now or utcnow()
    ts, org = tenant_skus.c, organizations.c
    with read_only(engine) as conn:
        rows = conn.execute(
            select(tenant_skus, org.name.label("org_name"))
            .join(organizations, org.id == ts.organization_id)
            .order_by(ts.current_period_end, org.name)
        ).mappings()
        items = []
        for row in rows:
            current = subscription_state(row, now)
            if state == "expiring":
                assert within is not None
                if not expiring_within(row, now, within):
                    continue
            elif state is not None and current != state:
                continue
            items.append(
                SubscriptionItem(
                    organization_id=str(row["organization_id"]),
                    name=str(row["org_name"]),
                    tier=str(row["tier"]),
                    billing_cycle=str(row["billing_cycle"]),
                    state=current,
                    current_period_end=row["current_period_end"],
                    trial_ends_at=row["trial_ends_at"],
                    cancel_at_period_end=bool(row["cancel_at_period_end"]),
                )
            )
    return SubscriptionList(state=state, within=within, now=now, items=items)
