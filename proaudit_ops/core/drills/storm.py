"""The dunning storm's set-up: the 06:00-style renewal run hit a Paystack 5xx spell.

On top of the fresh sandbox: STORM organizations, each with a paid month at Paystack (a reusable
card), its period over, and a renewal charge the app recorded as failed with the gateway error it
got (Paystack has no transaction for it: the request never got through), so an active dunning
record, attempt 1, due now. Two cards Paystack said not to retry (DO_NOT_RETRY): insufficient funds
twice (no next retry), and a regulated card (once per 24 h). Two cards still decline on the retry.

Rows are built with the seeder's own builders (sandbox/seed.py), so they have the seeded shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from proaudit_ops.sandbox.dataset import MONTHLY_PRICE, OK_EVENT, Org, Pay, stable_id

if TYPE_CHECKING:
    from proaudit_ops.runtime import Runtime

REGULATED_ANSWER = "Charge attempt cannot be fulfilled until 1380 minutes"
GATEWAY_ERRORS = (
    "Paystack HTTP 502: Bad Gateway",
    "Paystack HTTP 503: Service Unavailable",
    "Paystack HTTP 500: Internal Server Error",
)
SPELL_STARTED = timedelta(minutes=95)  # before the drill starts
SPELL_LASTED = timedelta(minutes=40)
RETRY_AFTER_GATEWAY_ERROR = timedelta(minutes=45)  # the app's schedule after a gateway error


@dataclass(frozen=True)
class StormOrg:
    slug: str
    name: str
    first: str
    last: str
    tier: str
    card_failure: str | None = None  # what a retry answers (None: it succeeds)
    kind: str = "gateway"  # gateway (failed in the spell) | insufficient_twice | regulated


# fmt: off
STORM: tuple[StormOrg, ...] = (
    StormOrg("abuja-dental", "Abuja Dental Care", "Amina", "Sule", "professional"),
    StormOrg("benin-bronze", "Benin Bronze Crafts", "Osaro", "Igbinedion", "core"),
    StormOrg("enugu-coal", "Enugu Coal Analytics", "Chinedu", "Nnaji", "professional"),
    StormOrg("ibadan-books", "Ibadan Books & Stationery", "Yemi", "Ajayi", "core"),
    StormOrg("kano-textiles", "Kano Textiles Ltd", "Sani", "Dantata", "professional"),
    StormOrg("lekki-fitness", "Lekki Fitness Club", "Tomi", "Adewale", "core"),
    StormOrg("makurdi-agro", "Makurdi Agro Mills", "Terver", "Akaa", "professional"),
    StormOrg("onitsha-parts", "Onitsha Auto Parts", "Ikenna", "Eze", "core"),
    StormOrg("oshogbo-arts", "Oshogbo Arts Collective", "Bolaji", "Ogunleye", "core"),
    StormOrg("rivers-marine", "Rivers Marine Services", "Ibinabo", "Jack", "professional"),
    StormOrg("sokoto-grains", "Sokoto Grains Exchange", "Usman", "Danfodio", "professional"),
    StormOrg("uyo-telecom", "Uyo Telecom Resellers", "Idara", "Udo", "core"),
    StormOrg("warri-energy", "Warri Energy Services", "Ejiro", "Omatsola", "professional", "Declined"),
    StormOrg("zaria-clinic", "Zaria Family Clinic", "Hadiza", "Musa", "core", "Declined"),
    StormOrg("asaba-logistics", "Asaba Logistics Hub", "Nkem", "Okonji", "core",
             "Insufficient Funds", "insufficient_twice"),
    StormOrg("minna-solar", "Minna Solar Installers", "Zainab", "Abdullahi", "professional",
             REGULATED_ANSWER, "regulated"),
)
# fmt: on
DO_NOT_RETRY: frozenset[str] = frozenset(s.name for s in STORM if s.kind != "gateway")
_CARDS = (("408408", "visa"), ("539983", "mastercard"), ("506099", "verve"))
_BANKS = ("GTBank", "Access Bank", "Zenith Bank", "First Bank", "UBA", "Fidelity Bank", "Wema Bank", "Kuda Bank")
FIRST_N = 60  # Org.n of the first storm organization (the seeded ones count from 1)


def storm_org(index: int, s: StormOrg) -> Org:
    bin_, brand = _CARDS[index % len(_CARDS)]
    card = (bin_, f"{(4113 + 379 * index) % 10000:04d}", brand, _BANKS[index % len(_BANKS)], str(2028 + index % 4))
    domain = s.slug.replace("-", "")
    slug, email, n = "storm-" + s.slug, f"billing@{domain}.ng", FIRST_N + index
    return Org(slug, s.name, email, s.first, s.last, s.tier, "monthly", n, "past_due", card, s.card_failure)


@dataclass
class _Rows:
    organizations: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    dunning: list[dict[str, Any]]
    events: list[dict[str, Any]]
    sims: list[dict[str, Any]]
    cards: list[dict[str, Any]]
    skus: list[dict[str, Any]]


def build_storm(now: datetime, first_txn_id: int) -> _Rows:
    """Every storm row for a sandbox seeded at about `now` (Paystack ids from `first_txn_id`)."""
    from proaudit_ops.sandbox import shapes
    from proaudit_ops.sandbox.seed import (
        Dataset,
        _card_authorization,
        _customer,
        _event,
        _payment_row,
        _sim_row,
        _tenant_row,
    )
    from proaudit_ops.sandbox.state import dumps

    now = now.replace(microsecond=0)
    rows = _Rows([], [], [], [], [], [], [])
    txn_id = first_txn_id
    spell = SPELL_LASTED.total_seconds()
    for i, s in enumerate(STORM):
        org = storm_org(i, s)
        price = MONTHLY_PRICE[s.tier]
        failed_ago = SPELL_STARTED - timedelta(seconds=int(spell * i / len(STORM)))  # the renewal run's order
        # Last month's payment: its period (a month) ended before the renewal run.
        paid = Pay(f"PSK-STORMOK-{i + 1:04d}", org.slug, price, "success", "success", failed_ago + timedelta(days=31))
        sim = _sim_row(paid, org, txn_id, now, i)
        txn_id += 1
        rows.sims.append(sim)
        rows.payments.append(_payment_row(paid, org, sim, now))
        body = shapes.charge_success_event({**sim, "status": "success"})
        rows.events.append(_event("charge.success", paid.ref, body, sim["paid_at"] + timedelta(seconds=3), OK_EVENT))
        renewal, attempts, retry_at, reason = _renewal(s, org, price, failed_ago, now)
        renewal_sim = None
        if renewal.ps is not None:  # Paystack answered (a decline), so it has the transaction
            renewal_sim = _sim_row(renewal, org, txn_id, now, i)
            txn_id += 1
            rows.sims.append(renewal_sim)
        payment = _payment_row(renewal, org, renewal_sim, now)
        if renewal_sim is None:  # the app's record of a charge that got a 5xx: failed, the error as its response
            payment.update(gateway_response=reason, channel="card", updated_at=payment["created_at"])
        rows.payments.append(payment)
        rows.organizations.append(
            {
                "id": org.id,
                "name": org.name,
                "email": org.email,
                "paystack_customer_code": org.customer_code,
                "created_at": now - timedelta(days=120 - org.n),
                "updated_at": now - timedelta(days=120 - org.n),
            }
        )
        rows.cards.append(
            {
                "authorization_code": org.authorization_code,
                "email": org.email,
                "customer": dumps(_customer(org)),
                "authorization": dumps(_card_authorization(org)),
                "failure": org.card_failure,
            }
        )
        rows.skus.append(_tenant_row(Dataset(now, payment_transactions=rows.payments), org, now))
        last_attempt = now - failed_ago if s.kind != "insufficient_twice" else now - timedelta(days=1)
        rows.dunning.append(
            {
                "id": stable_id("dunning", renewal.ref),
                "organization_id": org.id,
                "payment_transaction_id": payment["id"],
                "status": "active",
                "attempt_count": attempts,
                "max_attempts": 4,
                "amount_kobo": price,
                "currency": "NGN",
                "last_failure_reason": reason,
                "last_attempt_at": last_attempt,
                "next_retry_at": retry_at,
                "created_at": payment["created_at"] + timedelta(minutes=1),
                "updated_at": last_attempt,
            }
        )
    return rows


def _renewal(
    s: StormOrg, org: Org, price: int, failed_ago: timedelta, now: datetime
) -> tuple[Pay, int, datetime | None, str]:
    """The failed renewal payment, attempts so far, next retry and Paystack's (or the app's) reason."""
    ref = f"PSK-STORM-{org.n - FIRST_N + 1:04d}"
    if s.kind == "insufficient_twice":  # declined two days ago and again yesterday: no further retry
        reason = "Insufficient Funds"
        return Pay(ref, org.slug, price, "failed", "failed", timedelta(days=2), failure=reason), 2, None, reason
    if s.kind == "regulated":  # Paystack answered in the spell: the card may be charged once per 24 h
        at = now - failed_ago
        pay = Pay(ref, org.slug, price, "failed", "failed", failed_ago, failure=REGULATED_ANSWER)
        return pay, 1, at + timedelta(hours=24), REGULATED_ANSWER
    reason = GATEWAY_ERRORS[(org.n - FIRST_N) % len(GATEWAY_ERRORS)]
    retry_at = now - failed_ago + RETRY_AFTER_GATEWAY_ERROR
    return Pay(ref, org.slug, price, "failed", None, failed_ago), 1, retry_at, reason


def set_up_storm(runtime: Runtime, now: datetime) -> None:
    """Insert the storm into the fresh sandbox (the app's and Paystack's rows, one transaction)."""
    from proaudit_ops.db.schema import (
        dunning_records,
        organizations,
        payment_transactions,
        tenant_skus,
        webhook_events,
    )
    from proaudit_ops.sandbox.state import FIRST_TRANSACTION_ID, next_id, sim_authorizations, sim_transactions

    with runtime.sandbox_engine().begin() as conn:
        rows = build_storm(now, next_id(conn, sim_transactions, FIRST_TRANSACTION_ID))
        conn.execute(organizations.insert(), rows.organizations)
        conn.execute(tenant_skus.insert(), rows.skus)
        conn.execute(payment_transactions.insert(), rows.payments)
        conn.execute(dunning_records.insert(), rows.dunning)
        conn.execute(webhook_events.insert(), rows.events)
        conn.execute(sim_transactions.insert(), rows.sims)
        conn.execute(sim_authorizations.insert(), rows.cards)


def storm_symptoms(runtime: Runtime, now: datetime) -> list[str]:
    """The pager's and the dunning queue's view (read from the sandbox, as monitoring would)."""
    from proaudit_ops.core.dunning.records import all_records, due
    from proaudit_ops.db.engine import read_only
    from proaudit_ops.money import format_amount

    with read_only(runtime.engine()) as conn:
        active = all_records(conn, "active")
    due_now = [r for r in active if due(r, now)]
    gateway = [r for r in due_now if str(r.get("last_failure_reason") or "").startswith("Paystack HTTP 5")]
    stake = sum(int(r["amount_kobo"]) for r in due_now)
    start = now - SPELL_STARTED
    return [
        f"dunning: {len(due_now)} records due now ({format_amount(stake, 'NGN')} at stake), "
        f"{len(gateway)} of them failed {start:%H:%M}-{start + SPELL_LASTED:%H:%M} UTC with Paystack 5xx",
        f"status.paystack.com: elevated error rates on charges {start:%H:%M}-{start + SPELL_LASTED:%H:%M} UTC, "
        "resolved",
        "support: 'my renewal failed but my bank shows no attempt' (several customers)",
    ]
