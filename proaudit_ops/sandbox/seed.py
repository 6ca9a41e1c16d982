"""Seed the demo data: the billing tables (the app's view) and the sim tables (Paystack's view).

`build_dataset(now)` renders dataset.py into plain rows for every table; the seeders insert
them. Both seeders take an Engine (a transaction of their own) or a Connection (the caller's
transaction) and a timezone-aware `now` (truncated to whole seconds); the schemas must exist.
The seeded webhook bodies are rendered from the very rows the simulator serves, so the two
sides agree byte for byte, and are signed with `SANDBOX_SECRET_KEY`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from proaudit_ops.db.schema import (
    dunning_records,
    organizations,
    payment_transactions,
    tenant_skus,
    webhook_events,
)
from proaudit_ops.paystack.signatures import compute_signature
from proaudit_ops.sandbox import shapes
from proaudit_ops.sandbox.billing_app import add_period
from proaudit_ops.sandbox.dataset import (
    CANCELLATION_REASONS,
    DUNNING,
    FIRST_SEEDED_TRANSACTION_ID,
    OK_EVENT,
    ORG_BY_SLUG,
    ORG_IDS,
    ORGS,
    PAYMENTS,
    RECORDED_ONLY_REFUNDS,
    SANDBOX_PUBLIC_KEY,
    SANDBOX_SECRET_KEY,
    SEEDED_REFERENCES,
    SEEDED_REFUND_ID,
    SEEDED_REFUNDS,
    Org,
    Pay,
    stable_hex,
    stable_id,
)
from proaudit_ops.sandbox.sim_refunds import REFUNDED_BY
from proaudit_ops.sandbox.state import (
    dumps,
    loads,
    sim_authorizations,
    sim_refunds,
    sim_transactions,
)

__all__ = [
    "ORG_IDS",
    "SANDBOX_PUBLIC_KEY",
    "SANDBOX_SECRET_KEY",
    "SEEDED_REFERENCES",
    "Dataset",
    "build_dataset",
    "seed_billing",
    "seed_simulator",
]

Row = dict[str, Any]
SECOND = timedelta(seconds=1)
_IPS = ("197.210.54.33", "105.112.24.190", "102.89.32.7", "41.58.120.12", "129.205.113.4")


@dataclass
class Dataset:
    now: datetime
    organizations: list[Row] = field(default_factory=list)
    tenant_skus: list[Row] = field(default_factory=list)
    payment_transactions: list[Row] = field(default_factory=list)
    dunning_records: list[Row] = field(default_factory=list)
    webhook_events: list[Row] = field(default_factory=list)
    sim_transactions: list[Row] = field(default_factory=list)
    sim_authorizations: list[Row] = field(default_factory=list)
    sim_refunds: list[Row] = field(default_factory=list)

    def payment(self, reference: str) -> Row:
        return next(p for p in self.payment_transactions if p["reference"] == reference)


@contextmanager
def _transaction(bind: Engine | Connection) -> Iterator[Connection]:
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            yield conn
    elif bind.in_transaction():
        yield bind
    else:
        with bind.begin():
            yield bind


def seed_billing(bind: Engine | Connection, *, now: datetime) -> None:
    """Organizations, subscriptions, payments, dunning records and the webhook inbox."""
    ds = build_dataset(now)
    with _transaction(bind) as conn:
        conn.execute(organizations.insert(), ds.organizations)
        conn.execute(tenant_skus.insert(), ds.tenant_skus)
        conn.execute(payment_transactions.insert(), ds.payment_transactions)
        conn.execute(dunning_records.insert(), ds.dunning_records)
        conn.execute(webhook_events.insert(), ds.webhook_events)


def seed_simulator(bind: Engine | Connection, *, now: datetime) -> None:
    """Paystack's transactions, saved cards and refunds for the same tenants."""
    ds = build_dataset(now)
    with _transaction(bind) as conn:
        conn.execute(sim_transactions.insert(), ds.sim_transactions)
        conn.execute(sim_authorizations.insert(), ds.sim_authorizations)
        conn.execute(sim_refunds.insert(), ds.sim_refunds)


def build_dataset(now: datetime) -> Dataset:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    now = now.replace(microsecond=0)
    ds = Dataset(now=now)
    sims: dict[str, Row] = {}
    for index, pay in enumerate(sorted(PAYMENTS, key=lambda p: (p.batch, -p.age.total_seconds()))):
        org = ORG_BY_SLUG[pay.org]
        sim = _sim_row(pay, org, FIRST_SEEDED_TRANSACTION_ID + index, now, index) if pay.ps else None
        if sim is not None:
            ds.sim_transactions.append(sim)
            sims[pay.ref] = sim
        if pay.db is not None:
            ds.payment_transactions.append(_payment_row(pay, org, sim, now))
        if pay.inbox is not None and sim is not None:
            # The event as Paystack sent it: at that moment the transaction was a success.
            event = shapes.charge_success_event({**sim, "status": "success"})
            received = (sim["paid_at"] or sim["created_at"]) + 3 * SECOND
            ds.webhook_events.append(_event("charge.success", pay.ref, event, received, pay.inbox))
    for org in ORGS:
        joined = now - timedelta(days=120 - org.n)
        ds.organizations.append(
            {
                "id": org.id,
                "name": org.name,
                "email": org.email,
                "paystack_customer_code": org.customer_code,
                "created_at": joined,
                "updated_at": joined,
            }
        )
        if org.card is not None:
            ds.sim_authorizations.append(
                {
                    "authorization_code": org.authorization_code,
                    "email": org.email,
                    "customer": dumps(_customer(org)),
                    "authorization": dumps(_card_authorization(org)),
                    "failure": org.card_failure,
                    "requires_2fa": org.card_2fa,
                }
            )
    _add_refund(ds, sims["PSK-REFUNDED-0001"])
    for reference, refund_id, amount, days_after, recorded in SEEDED_REFUNDS:
        _add_later_refund(ds, sims[reference], refund_id, amount, timedelta(days=days_after), recorded=recorded)
    for reference, recorded_kobo in RECORDED_ONLY_REFUNDS.items():
        refunded = ds.payment(reference)["paid_at"] + timedelta(days=1)
        ds.payment(reference).update(
            refund_reference=f"RF-{reference}",
            refund_amount_kobo=recorded_kobo,
            refunded_at=refunded,
            updated_at=refunded,
        )
    ds.tenant_skus.extend(_tenant_row(ds, org, now) for org in ORGS)
    ds.dunning_records.extend(_dunning_rows(ds, now))
    return ds


def _customer(org: Org) -> Row:
    return {
        "id": org.customer_id,
        "first_name": org.first_name,
        "last_name": org.last_name,
        "email": org.email,
        "customer_code": org.customer_code,
        "phone": org.phone,
        "metadata": None,
        "risk_action": "default",
        "international_format_phone": org.phone,
    }


def _card_authorization(org: Org) -> Row:
    assert org.card is not None
    bin_, last4, brand, bank, exp_year = org.card
    return {
        "authorization_code": org.authorization_code,
        "bin": bin_,
        "last4": last4,
        "exp_month": "12",
        "exp_year": exp_year,
        "channel": "card",
        "card_type": f"{brand} ",  # Paystack pads it; clients must strip
        "bank": bank,
        "country_code": "NG",
        "brand": brand,
        "reusable": True,
        "signature": "SIG_" + stable_hex("sig/" + org.slug, 20),
        "account_name": None,
        "receiver_bank_account_number": None,
        "receiver_bank": None,
    }


def _transfer_authorization(pay: Pay) -> Row:
    return {
        "authorization_code": "AUTH_" + stable_hex("auth/" + pay.ref, 10),
        "bin": "008XXX",
        "last4": "X553",
        "exp_month": "10",
        "exp_year": "2030",
        "channel": "bank_transfer",
        "card_type": "transfer",
        "bank": None,
        "country_code": "NG",
        "brand": "Managed Account",
        "reusable": False,
        "signature": None,
        "account_name": None,
        "receiver_bank_account_number": "9880218357",
        "receiver_bank": "Test Bank",
    }


def _sim_row(pay: Pay, org: Org, txn_id: int, now: datetime, index: int) -> Row:
    assert pay.ps is not None
    created = now - pay.age
    paid = pay.ps in ("success", "reversed")
    amount = pay.ps_amount or pay.amount
    currency = pay.ps_currency or pay.currency
    authorization: Row = {}
    if pay.ps == "pending":
        gateway = "Pending"
    elif pay.ps == "abandoned":
        gateway = shapes.NOT_COMPLETED
    else:
        card = pay.channel == "card"
        authorization = _card_authorization(org) if card else _transfer_authorization(pay)
        if pay.ps == "failed":
            gateway = pay.failure or "Declined"
        else:
            gateway = "Approved" if pay.entry == "charge_authorization" else "Successful"
    metadata: object = ""
    if pay.db is not None:
        metadata = {"organization_id": org.id, "tier": org.tier, "billing_cycle": org.billing_cycle}
    checkout = pay.entry != "charge_authorization"
    return {
        "id": txn_id,
        "reference": pay.ref,
        "status": pay.ps,
        "amount": amount,
        "requested_amount": amount,
        "currency": currency,
        "gateway_response": gateway,
        "message": None,
        "channel": pay.channel,
        "ip_address": _IPS[index % len(_IPS)] if checkout else None,
        "fees": shapes.paystack_fees(amount, currency) if paid else 0,
        "customer_id": org.customer_id,
        "customer_email": org.email.lower(),
        "customer": dumps(_customer(org)),
        "authorization": dumps(authorization),
        "metadata": dumps(metadata),
        "log": dumps(shapes.make_log(created, status=pay.ps, channel=pay.channel, failure=pay.failure)),
        "source": dumps({"source": "merchant_api", "type": "api", "identifier": None, "entry_point": pay.entry}),
        "paid_at": created + timedelta(seconds=90) if paid else None,
        "created_at": created,
        "updated_at": created + timedelta(seconds=90),
    }


def _payment_row(pay: Pay, org: Org, sim: Row | None, now: datetime) -> Row:
    created = now - pay.age - SECOND
    applied = pay.db in ("success", "refunded")
    settled = sim is not None and pay.db in ("success", "refunded", "failed", "abandoned")
    return {
        "id": stable_id("payment", pay.ref),
        "organization_id": org.id,
        "reference": pay.ref,
        "paystack_transaction_id": sim["id"] if sim is not None else None,
        "status": pay.db,
        "amount_kobo": pay.amount,
        "currency": pay.currency,
        "gateway_response": sim["gateway_response"] if (sim is not None and settled) else None,
        "channel": pay.channel if settled else None,
        "paid_at": sim["paid_at"] if (sim is not None and applied) else None,
        "refund_reference": None,
        "refund_amount_kobo": None,
        "refunded_at": None,
        "created_at": created,
        "updated_at": sim["updated_at"] + 4 * SECOND if (sim is not None and settled) else created,
    }


def _event(event_type: str, ref: str, body: Row, when: datetime, inbox: tuple[str, int, str | None]) -> Row:
    raw = dumps(body).encode("utf-8")
    status, attempts, error = inbox
    return {
        "id": stable_id("event", f"{event_type}/{ref}"),
        "event_type": event_type,
        "reference": ref,
        "raw_body": raw,
        "signature": compute_signature(raw, SANDBOX_SECRET_KEY),
        "status": status,
        "attempts": attempts,
        "last_error": error,
        "received_at": when,
        "processed_at": when + SECOND if status == "processed" else None,
    }


def _add_refund(ds: Dataset, sim: Row) -> None:
    """PSK-REFUNDED-0001: refunded in full two days after payment, processed a day later."""
    created = sim["paid_at"] + timedelta(days=2)
    refund = {
        "id": SEEDED_REFUND_ID,
        "transaction_id": sim["id"],
        "transaction_reference": sim["reference"],
        "amount": sim["amount"],
        "currency": sim["currency"],
        "status": "processed",
        "customer_note": "Refund: subscription cancelled within 7 days",
        "merchant_note": "Customer requested refund",
        "refunded_by": REFUNDED_BY,
        "refunded_at": created + timedelta(days=1),
        "expected_at": shapes.refund_expected_at(created),
        "created_at": created,
        "updated_at": created + timedelta(days=1),
    }
    ds.sim_refunds.append(refund)
    sim["updated_at"] = created
    ds.payment(sim["reference"]).update(
        refund_reference=str(SEEDED_REFUND_ID),
        refund_amount_kobo=sim["amount"],
        refunded_at=created,
        updated_at=created,
    )
    body = shapes.refund_processed_event(refund, loads(sim["customer"]))
    ds.webhook_events.append(_event("refund.processed", sim["reference"], body, refund["refunded_at"], OK_EVENT))


def _add_later_refund(
    ds: Dataset, sim: Row, refund_id: int, amount: int | None, after: timedelta, *, recorded: bool
) -> None:
    """A processed refund at Paystack, stored as sim_refunds stores them (notes as Paystack defaults them).

    The transaction was already seeded `reversed` when the refund takes all of it, `success` when
    partial (sim_refunds' rule). `recorded`: payment_transactions knows it (refund_reference, amount,
    refunded_at; the status stays `success` for a partial refund); otherwise the app never heard of it.
    """
    created = sim["paid_at"] + after
    value = sim["amount"] if amount is None else amount
    note = f"Refund for transaction {sim['reference']}"
    ds.sim_refunds.append(
        {
            "id": refund_id,
            "transaction_id": sim["id"],
            "transaction_reference": sim["reference"],
            "amount": value,
            "currency": sim["currency"],
            "status": "processed",
            "customer_note": note,
            "merchant_note": note,
            "refunded_by": REFUNDED_BY,
            "refunded_at": created + timedelta(hours=20),
            "expected_at": shapes.refund_expected_at(created),
            "created_at": created,
            "updated_at": created + timedelta(hours=20),
        }
    )
    sim["updated_at"] = created
    if recorded:
        ds.payment(sim["reference"]).update(
            refund_reference=str(refund_id),
            refund_amount_kobo=value,
            refunded_at=created,
            updated_at=created,
        )


def _tenant_row(ds: Dataset, org: Org, now: datetime) -> Row:
    joined = now - timedelta(days=120 - org.n)
    row: Row = {
        "id": stable_id("tenant_sku", org.slug),
        "organization_id": org.id,
        "tier": org.tier,
        "billing_cycle": org.billing_cycle,
        "is_active": org.state != "cancelled",
        "trial_ends_at": None,
        "cancel_at_period_end": org.slug == "delta",
        "cancellation_reason": CANCELLATION_REASONS.get(org.slug),
        "created_at": joined,
    }
    if org.state == "trial":
        start = now - timedelta(days=4 + org.n % 3)
        row.update(
            current_period_start=start,
            current_period_end=start + timedelta(days=14),
            trial_ends_at=start + timedelta(days=14),
        )
    else:
        # The period the last applied payment paid for: still running (active) or over
        # (past due and cancelled: every such org last paid more than a month ago).
        paid = [p["paid_at"] for p in ds.payment_transactions if p["organization_id"] == org.id]
        start = max(t for t in paid if t is not None)
        row.update(current_period_start=start, current_period_end=add_period(start, org.billing_cycle))
    row["updated_at"] = max(joined, row["current_period_start"])
    return row


def _dunning_rows(ds: Dataset, now: datetime) -> list[Row]:
    rows = []
    for slug, ref, status, attempts, retry_in, reason in DUNNING:
        payment = ds.payment(ref)
        created = payment["created_at"] + timedelta(minutes=1)
        last_attempt = created + timedelta(days=9) if status == "exhausted" else created
        rows.append(
            {
                "id": stable_id("dunning", ref),
                "organization_id": ORG_BY_SLUG[slug].id,
                "payment_transaction_id": payment["id"],
                "status": status,
                "attempt_count": attempts,
                "max_attempts": 4,
                "amount_kobo": payment["amount_kobo"],
                "currency": payment["currency"],
                "last_failure_reason": reason,
                "last_attempt_at": last_attempt,
                "next_retry_at": now + retry_in if retry_in is not None else None,
                "created_at": created,
                "updated_at": created + timedelta(days=2) if status == "recovered" else last_attempt,
            }
        )
    return rows
