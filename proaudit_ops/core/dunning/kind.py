"""The charge kind of the intent protocol: a dunning retry as Paystack's charge_authorization.

params (stored on the intent, reviewed in the plan): target (dunning record id), reference (the
charge reference, derived from subscription + period + attempt), attempt, organization_id, email,
amount, currency, authorization_code, payment_id, sku_id, tier, billing_cycle, period_start,
period_end.

Paystack answers a charge with HTTP 200 even when it fails: the effect's status says what happened
(success, failed, paused for 2FA); `find` is GET /transaction/verify/REFERENCE, so a rerun after a
lost answer or a crash asks Paystack about this exact reference before anything else.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.dunning.records import REGULATED_WAIT_HOURS, is_insufficient, is_regulated
from proaudit_ops.errors import DependencyUnavailable, PaystackNotFound
from proaudit_ops.protocols.intents import Effect, Intent

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from proaudit_ops.paystack import PaystackClient
    from proaudit_ops.paystack.models import Transaction
    from proaudit_ops.protocols.guard import ChangeGuard
    from proaudit_ops.protocols.plan import RowChange

TOUCH_DUNNING = ("last_attempt_at", "updated_at")
TOUCH_NEW_PAYMENT = ("created_at", "updated_at")
BACKOFF_DAYS = (1, 3, 5)  # after attempt 1, 2, 3+ (the app's dunning schedule)
PAUSED_REASON = "2FA: the customer must approve the charge at its authorization URL (dunning status shows it)"


def effect_of(tx: Transaction) -> Effect:
    data: dict[str, Any] = {"gateway_response": tx.gateway_response or tx.message or ""}
    # a charge's answer says transaction_date, not paid_at (reference section 4): a success was paid then
    paid_at = tx.paid_at or (tx.transaction_date if tx.status == "success" else None)
    if paid_at is not None:
        data["paid_at"] = paid_at.isoformat()
    if tx.authorization_url:
        data["authorization_url"] = tx.authorization_url
    ident = str(tx.id) if tx.id is not None else str(tx.reference)
    return Effect(ident, str(tx.status), int(tx.amount), data)


def next_retry(reason: str, previous: str | None, attempt: int, max_attempts: int, now: datetime) -> datetime | None:
    """When to try again after a failed attempt; None: Paystack's answer says not to retry."""
    if attempt >= max_attempts:
        return None
    if is_regulated(reason):  # the card may be charged once per 24 h until a success
        return now + timedelta(hours=REGULATED_WAIT_HOURS)
    if is_insufficient(reason) and is_insufficient(previous):
        return None  # twice in a row: more retries only annoy the bank; send a payment link
    return now + timedelta(days=BACKOFF_DAYS[min(attempt, len(BACKOFF_DAYS)) - 1])


class ChargeRateLimited(DependencyUnavailable):
    """Paystack answered 429 to the charge: nothing was charged; wait Retry-After, then rerun."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        wait = f"{retry_after:g} s" if retry_after is not None else "a minute"
        super().__init__(message, f"rerun after {wait}: it verifies the reference at Paystack first")
        self.retry_after = retry_after


class ChargeKind:
    name = "charge"
    action = "dunning.retry"
    command = "dunning"

    def find(self, client: PaystackClient, intent: Intent, claimed: set[str]) -> Effect | None:
        try:
            tx = client.verify_transaction(str(intent.params["reference"]))
        except PaystackNotFound:
            return None
        if tx.status == "abandoned":  # never charged (a checkout link's row): nothing happened
            return None
        url = intent.params.get("authorization_url")
        if url and tx.status in ("ongoing", "pending", "paused"):  # paused for 2FA (keep saved its URL)
            return Effect(str(tx.id or tx.reference), "paused", int(tx.amount), {"authorization_url": url})
        return effect_of(tx)

    def keep(self, intent: Intent, effect: Effect) -> dict[str, Any]:
        """A 2FA pause's authorization URL, saved as soon as it arrives (verify never shows it again)."""
        if effect.status == "paused" and effect.data.get("authorization_url"):
            return {"authorization_url": effect.data["authorization_url"]}
        return {}

    def perform(self, client: PaystackClient, intent: Intent) -> Effect:
        from proaudit_ops.errors import PaystackError

        p = intent.params
        try:
            tx = self._charge(client, p)
        except PaystackError as exc:
            if exc.status_code == 429:  # not processed: the intent stays started, a rerun verifies first
                raise ChargeRateLimited(exc.message, exc.retry_after) from None
            raise
        return effect_of(tx)

    def _charge(self, client: PaystackClient, p: dict[str, Any]) -> Transaction:
        return client.charge_authorization(
            email=str(p["email"]),
            amount=int(p["amount"]),
            authorization_code=str(p["authorization_code"]),
            reference=str(p["reference"]),
            currency=str(p["currency"]),
            # the app's contract (core/entitlement.py) first, so its charge.success handler entitles
            metadata={
                "organization_id": str(p["organization_id"]),
                "tier": str(p["tier"]),
                "billing_cycle": str(p["billing_cycle"]),
                "dunning_record": str(p["target"]),
                "attempt": int(p["attempt"]),
            },
        )

    def record(self, guard: ChangeGuard, conn: Connection, intent: Intent, effect: Effect) -> list[RowChange]:
        """The dunning record, the charge's own payment row, and on success the subscription period,
        as they must be now that Paystack answered (computed from the rows as they are)."""
        from proaudit_ops.db.schema import dunning_records as d
        from proaudit_ops.timeutil import utcnow

        p = intent.params
        now = utcnow()
        row = guard.lock_rows(conn, d, d.c.id == str(p["target"]), expect=1)[0]
        attempt = max(int(row["attempt_count"] or 0), int(p["attempt"]))
        values: dict[str, Any] = {"attempt_count": attempt}
        changes: list[RowChange] = []
        reason = str(effect.data.get("gateway_response") or effect.status)
        payment = payment_change(guard, conn, p, effect, now)
        if payment is not None:
            changes.append(payment)
        if effect.status == "success":
            values.update(status="recovered", next_retry_at=None)
            changes.extend(success_changes(guard, conn, p, effect, now))
        elif effect.status == "paused":
            from proaudit_ops.protocols.intents import remember

            remember(conn, intent.op_key, self.keep(intent, effect))
            values.update(last_failure_reason=PAUSED_REASON, next_retry_at=None)
        elif effect.status == "failed":
            max_attempts = int(row["max_attempts"] or 4)
            retry_at = next_retry(reason, row.get("last_failure_reason"), attempt, max_attempts, now)
            values.update(last_failure_reason=reason, next_retry_at=retry_at)
            if attempt >= max_attempts:
                values["status"] = "exhausted"
        else:  # pending at Paystack: no automatic retry until it settles (verify the reference)
            values.update(
                last_failure_reason=f"Paystack: {effect.status} (verify {p['reference']})", next_retry_at=None
            )
        changes.insert(0, dunning_change(row, values))
        return changes


def dunning_change(row: dict[str, Any], values: dict[str, Any], touch: tuple[str, ...] = TOUCH_DUNNING) -> RowChange:
    from proaudit_ops.protocols.plan import RowChange

    return RowChange(
        table="dunning_records",
        key={"id": row["id"]},
        guards={"status": row["status"], "attempt_count": row["attempt_count"]},
        new_values=values,
        before=row,
        label=f"dunning record of {row['organization_id']}",
        touch=touch,
    )


def payment_change(
    guard: ChangeGuard, conn: Connection, p: dict[str, Any], effect: Effect, now: datetime
) -> RowChange | None:
    """The charge as a payment row of its own, with Paystack's answer (an attempt is history: the
    failed payment that started the dunning stays as it was). The app may have recorded the
    reference already (its webhook came first): then that row is brought up to date instead, and
    left alone when it already says success."""
    import uuid

    from proaudit_ops.audit.canonical import plain_json
    from proaudit_ops.db.schema import payment_transactions as pt
    from proaudit_ops.protocols.plan import RowChange

    reference = str(p["reference"])
    status = {"success": "success", "failed": "failed"}.get(effect.status, "pending")  # paused: pending
    values: dict[str, Any] = {
        "status": status,
        "gateway_response": str(effect.data.get("gateway_response") or effect.status),
        "channel": "card",
    }
    if status == "success":
        values["paid_at"] = effect.data.get("paid_at") or now.isoformat()
    if effect.id.isdigit():
        values["paystack_transaction_id"] = int(effect.id)
    found = guard.lock_rows(conn, pt, pt.c.reference == reference)
    if found:
        row = found[0]
        changed = {k: v for k, v in values.items() if plain_json(row.get(k)) != v}
        if row["status"] == "success" or not changed:
            return None
        return RowChange(
            table=pt.name,
            key={"id": row["id"]},
            guards={"reference": reference, "status": row["status"]},
            new_values=changed,
            before=row,
            label=f"payment {reference}",
            touch=("updated_at",),
        )
    return RowChange(
        table=pt.name,
        key={"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"proaudit:payment:{reference}"))},
        guards={"reference": reference},
        new_values={
            "organization_id": str(p["organization_id"]),
            "reference": reference,
            "amount_kobo": int(effect.amount if effect.amount is not None else p["amount"]),
            "currency": str(p["currency"]),
            **values,
        },
        before={},
        label=f"payment {reference} (the charge)",
        touch=TOUCH_NEW_PAYMENT,
        insert=True,
    )


def success_changes(
    guard: ChangeGuard, conn: Connection, p: dict[str, Any], effect: Effect, now: datetime
) -> list[RowChange]:
    """The subscription as the app leaves it on charge.success (core/entitlement.py): the tier and
    cycle charged for, the period from Paystack's paid_at, never shortened."""
    from proaudit_ops.core.entitlement import Entitlement, period_end
    from proaudit_ops.core.subscriptions.changes import coverage_change
    from proaudit_ops.timeutil import parse_iso

    paid_at = parse_iso(str(effect.data["paid_at"])) if effect.data.get("paid_at") else None
    start = paid_at or now
    paid_for = Entitlement(
        organization_id=str(p["organization_id"]),
        tier=str(p["tier"]),
        billing_cycle=str(p["billing_cycle"]),
        period_start=start,
        period_end=period_end(start, str(p["billing_cycle"])),
        source="metadata",
        payment_reference=str(p["reference"]),
    )
    sku = coverage_change(guard, conn, paid_for, now, label=f"subscription of {p['organization_id']}")
    return [sku] if sku is not None else []


CHARGE = ChargeKind()
