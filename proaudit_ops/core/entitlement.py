"""Entitlement: what a successful payment bought, and whether the subscription row covers it.

The contract with the billing app (also in runbook/subscriptions.md, "What a payment buys"):

* At `POST /transaction/initialize` (and `charge_authorization`) the app puts
  `{"organization_id": UUID, "tier": TIER, "billing_cycle": CYCLE}` in the transaction's
  `metadata`. Paystack hands it back on verify/list as sent: a JSON object, or a JSON string
  when the merchant sent a string, or `""`/`null`/`0` when nothing was sent.
* `parse_metadata` reads it: a string is parsed as JSON (at most MAX_METADATA_CHARS characters,
  nested at most MAX_METADATA_DEPTH levels); the result must be an object (or empty). Only the
  three keys above are read, each validated: `organization_id` a UUID, `tier` one of TIERS,
  `billing_cycle` one of CYCLES (or an alias in CYCLE_ALIASES). A present but invalid key is an
  EntitlementError, never a silent default.
* A key that is absent falls back to the organization's `tenant_skus` row (the app itself
  processes `charge.success` with the row's billing cycle); `Entitlement.source` says which.
  Metadata naming another organization than the payment row is an EntitlementError.
* The period bought starts at the payment's `paid_at` (an operator's `--from` in
  `subscriptions activate`) and ends by calendar: PERIOD_MONTHS months later, the day clamped
  to the month's length (31 Jan + 1 month = 28/29 Feb; 29 Feb + 1 year = 28 Feb), time of day
  kept. Always computed from the period start, never chained month to month.
* `covers(row, bought, now)`: the row is active, not in trial, of the tier bought or a higher
  one (TIERS is ascending: an upgrade after paying is not a loss for the customer), and its
  `current_period_end` is at or after the end the payment bought (to the second). A payment
  whose period is already over is covered trivially: it entitles nothing any more.

Pure functions (no printing, no writes); `entitlement_for_payment` only reads tenant_skus.
"""

from __future__ import annotations

import calendar
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from proaudit_ops.timeutil import as_utc

if TYPE_CHECKING:
    from sqlalchemy import Connection

TIERS: tuple[str, ...] = ("core", "professional", "enterprise")  # ascending; the tiers the app sells
TIER_RANK = {tier: rank for rank, tier in enumerate(TIERS)}
PERIOD_MONTHS = {"monthly": 1, "annual": 12}
CYCLES: tuple[str, ...] = tuple(PERIOD_MONTHS)
CYCLE_ALIASES = {"annually": "annual", "yearly": "annual", "month": "monthly", "year": "annual"}
STATES: tuple[str, ...] = ("active", "trial", "past_due", "cancelled")
MAX_METADATA_CHARS = 16_384
MAX_METADATA_DEPTH = 8
METADATA_KEYS = ("organization_id", "tier", "billing_cycle")


class EntitlementError(ValueError):
    """The payment's metadata is present but unusable: say what is wrong, never guess."""


# -- vocabulary -----------------------------------------------------------------------------------


def normalize_tier(value: object) -> str:
    if not isinstance(value, str) or value.strip().lower() not in TIER_RANK:
        raise EntitlementError(f"unknown tier {_show(value)} (one of {', '.join(TIERS)})")
    return value.strip().lower()


def normalize_cycle(value: object) -> str:
    text = value.strip().lower() if isinstance(value, str) else None
    cycle = CYCLE_ALIASES.get(text, text) if text is not None else None
    if cycle not in PERIOD_MONTHS:
        raise EntitlementError(f"unknown billing cycle {_show(value)} (one of {', '.join(CYCLES)})")
    assert cycle is not None
    return cycle


def tier_at_least(have: str, need: str) -> bool:
    return TIER_RANK.get(have, -1) >= TIER_RANK[need]


# -- the calendar ---------------------------------------------------------------------------------


def add_months(start: datetime, months: int) -> datetime:
    """start + `months` calendar months, the day clamped to the target month's length."""
    if months < 0:
        raise ValueError("months must be >= 0")
    year, month0 = divmod(start.month - 1 + months, 12)
    year += start.year
    day = min(start.day, calendar.monthrange(year, month0 + 1)[1])
    return start.replace(year=year, month=month0 + 1, day=day)


def period_end(start: datetime, billing_cycle: str) -> datetime:
    """The end of the period that starts at `start` (aware UTC in, aware UTC out)."""
    aware = as_utc(start)
    assert aware is not None
    return add_months(aware, PERIOD_MONTHS[normalize_cycle(billing_cycle)])


# -- reading what a payment bought ---------------------------------------------------------------


@dataclass(frozen=True)
class BillingMetadata:
    """The three keys of the contract; None where the metadata does not say."""

    organization_id: str | None = None
    tier: str | None = None
    billing_cycle: str | None = None

    @property
    def empty(self) -> bool:
        return self.organization_id is None and self.tier is None and self.billing_cycle is None


def parse_metadata(value: object) -> BillingMetadata:
    """Paystack's `metadata` (object, JSON string, or empty) -> the validated contract keys."""
    if value is None or value == "" or value == 0 or value == [] or value == {}:
        return BillingMetadata()
    if isinstance(value, bytes | bytearray):
        raise EntitlementError("metadata is bytes, expected a JSON object or string")
    if isinstance(value, str):
        value = _parse_json_text(value)
        if value is None or value == "" or value == 0 or value == [] or value == {}:
            return BillingMetadata()
    if not isinstance(value, Mapping):
        raise EntitlementError(f"metadata is a {type(value).__name__}, expected a JSON object")
    _check_bounds(value)
    org = value.get("organization_id")
    tier = value.get("tier")
    cycle = value.get("billing_cycle")
    return BillingMetadata(
        organization_id=_uuid_or_none(org),
        tier=normalize_tier(tier) if tier not in (None, "") else None,
        billing_cycle=normalize_cycle(cycle) if cycle not in (None, "") else None,
    )


def _parse_json_text(text: str) -> Any:
    if len(text) > MAX_METADATA_CHARS:
        raise EntitlementError(f"metadata is too long ({len(text)} characters, at most {MAX_METADATA_CHARS})")
    from proaudit_ops.errors import UsageError
    from proaudit_ops.files import parse_json

    try:
        return parse_json(text, "metadata", max_depth=MAX_METADATA_DEPTH)
    except UsageError as exc:
        raise EntitlementError(exc.message) from None


def _check_bounds(value: Mapping[Any, Any]) -> None:
    try:
        size = len(json.dumps(value, default=str))
    except (TypeError, ValueError, RecursionError) as exc:
        raise EntitlementError(f"metadata is not plain JSON: {exc}") from None
    if size > MAX_METADATA_CHARS:
        raise EntitlementError(f"metadata is too large ({size} characters as JSON, at most {MAX_METADATA_CHARS})")


def _uuid_or_none(value: object) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise EntitlementError(f"metadata organization_id {_show(value)} is not a UUID")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise EntitlementError(f"metadata organization_id {_show(value)} is not a UUID") from None


@dataclass(frozen=True)
class Entitlement:
    """What one payment bought: a tier and a period for an organization."""

    organization_id: str
    tier: str
    billing_cycle: str
    period_start: datetime
    period_end: datetime
    source: str  # "metadata", "tenant_sku", or "metadata+tenant_sku" (which keys came from where)
    payment_reference: str | None = None


def bought(
    organization_id: str,
    meta: BillingMetadata,
    sku: Mapping[str, Any] | None,
    start: datetime,
    *,
    reference: str | None = None,
) -> Entitlement:
    """Combine the metadata with the subscription row's fallbacks; EntitlementError if neither says."""
    if meta.organization_id is not None and meta.organization_id != str(organization_id).lower():
        raise EntitlementError(
            f"metadata names organization {meta.organization_id}, but the payment belongs to {organization_id}"
        )
    from_row: list[str] = []
    tier, cycle = meta.tier, meta.billing_cycle
    if tier is None or cycle is None:
        if sku is None:
            missing = " and ".join(k for k, v in (("tier", tier), ("billing_cycle", cycle)) if v is None)
            raise EntitlementError(f"metadata has no {missing} and the organization has no tenant_skus row")
        if tier is None:
            tier = normalize_tier(sku["tier"])
            from_row.append("tier")
        if cycle is None:
            cycle = normalize_cycle(sku["billing_cycle"])
            from_row.append("billing_cycle")
    assert tier is not None and cycle is not None
    source = "tenant_sku" if len(from_row) == 2 else "metadata+tenant_sku" if from_row else "metadata"
    begin = as_utc(start)
    assert begin is not None
    return Entitlement(
        organization_id=str(organization_id),
        tier=tier,
        billing_cycle=cycle,
        period_start=begin,
        period_end=period_end(begin, cycle),
        source=source,
        payment_reference=reference,
    )


def entitlement_for_payment(
    conn: Connection, payment_row: Mapping[str, Any], paystack_metadata: object
) -> Entitlement | None:
    """What a payment row bought, given its Paystack metadata; None unless it is a paid success.

    For a payment about to be fixed, pass the row as the fix will leave it (status and paid_at
    from Paystack). A `refunded` payment buys nothing (the refund takes it back); a partially refunded one (still
    `success`) keeps its entitlement unless the refund also changed the subscription.
    Raises EntitlementError when the metadata is present but unusable.
    """
    paid_at = as_utc(payment_row.get("paid_at"))
    if payment_row.get("status") != "success" or paid_at is None:
        return None
    meta = parse_metadata(paystack_metadata)
    sku = subscription_row(conn, str(payment_row["organization_id"]))
    return bought(str(payment_row["organization_id"]), meta, sku, paid_at, reference=payment_row.get("reference"))


def subscription_row(conn: Connection, organization_id: str) -> dict[str, Any] | None:
    from sqlalchemy import select

    from proaudit_ops.db.schema import tenant_skus

    row = conn.execute(select(tenant_skus).where(tenant_skus.c.organization_id == organization_id)).mappings().first()
    return dict(row) if row is not None else None


# -- does the row cover it? -------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    covered: bool
    reasons: tuple[str, ...]  # why not (empty when covered), or the note on a trivially covered payment
    required_end: datetime

    @property
    def explanation(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "the subscription covers what the payment bought"


def covers(tenant_sku: Mapping[str, Any] | None, paid_for: Entitlement, now: datetime) -> Coverage:
    """Is the organization's subscription row entitled to what the payment bought (see the module doc)?"""
    required = _to_second(paid_for.period_end)
    if required <= _to_second(now):
        return Coverage(
            True, (f"the period it bought ended {required.isoformat()}: nothing left to entitle",), required
        )
    if tenant_sku is None:
        return Coverage(False, ("the organization has no tenant_skus row",), required)
    reasons: list[str] = []
    if not tenant_sku.get("is_active"):
        reasons.append("the subscription is not active")
    if tenant_sku.get("trial_ends_at") is not None:
        reasons.append("the subscription is still a trial")
    tier = str(tenant_sku.get("tier") or "")
    if not tier_at_least(tier, paid_for.tier):
        reasons.append(f"tier is {tier or 'unset'}, the payment bought {paid_for.tier}")
    end = as_utc(tenant_sku.get("current_period_end"))
    if end is None or _to_second(end) < required:
        shown = end.isoformat() if end is not None else "unset"
        reasons.append(f"current_period_end is {shown}, the payment bought until {required.isoformat()}")
    return Coverage(not reasons, tuple(reasons), required)


# -- subscription state -----------------------------------------------------------------------------


def subscription_state(tenant_sku: Mapping[Any, Any], now: datetime) -> str:
    """active | trial | past_due | cancelled, from the row alone."""
    if not tenant_sku.get("is_active"):
        return "cancelled"
    trial = as_utc(tenant_sku.get("trial_ends_at"))
    end = as_utc(tenant_sku.get("current_period_end"))
    if trial is not None and trial > now:
        return "trial"
    if end is None or end < now:
        return "past_due"
    return "active"


def expiring_within(tenant_sku: Mapping[Any, Any], now: datetime, within: timedelta) -> bool:
    """Active or trial, and the current period (or trial) ends within `within` from now."""
    if subscription_state(tenant_sku, now) not in ("active", "trial"):
        return False
    end = as_utc(tenant_sku.get("current_period_end"))
    return end is not None and end <= now + within


def _to_second(value: datetime) -> datetime:
    aware = as_utc(value)
    assert aware is not None
    return aware.replace(microsecond=0)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
