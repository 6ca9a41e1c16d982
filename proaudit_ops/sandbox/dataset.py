"""The sandbox's demo tenants, as data: nineteen organizations and their payments.

Deterministic: ids are UUIDv5 of fixed names, Paystack ids fixed integers, and every time is
an offset from the `now` the seeder is given. seed.py turns this into rows for the billing
tables and the simulator tables. `SEEDED_REFERENCES` says what each scenario demonstrates.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

# A fake test-mode key: not a secret, it only signs the sandbox's own webhook events.
SANDBOX_SECRET_KEY = "sk_test_proauditsandbox00000000000000000000"  # noqa: S105
SANDBOX_PUBLIC_KEY = "pk_test_proauditsandbox00000000000000000000"

# fmt: off
SEEDED_REFERENCES: dict[str, str] = {
    "PSK-STUCK-0001": "pending in the DB, success at Paystack (~2h ago); no webhook arrived",
    "PSK-STUCK-0002": "pending in the DB, success at Paystack (~6h ago); "
                      "its charge.success inbox event failed (3 attempts)",
    "PSK-STUCK-0003": "pending in the DB, success at Paystack (~20h ago); "
                      "inbox event failed (5 attempts); tenant cancelled",
    "PSK-OK-0001": "success in the DB and at Paystack, amount and currency agree (5 days ago)",
    "PSK-FAILED-0001": "failed in both (Insufficient Funds); dunning active 1/4; "
                       "the saved card keeps failing",
    "PSK-FAILED-0002": "failed in both (Declined); dunning active 2/4, retry due now; "
                       "the saved card now succeeds",
    "PSK-ABANDONED-0001": "pending in the DB, abandoned at Paystack (checkout ~3h ago, unpaid)",
    "PSK-PENDING-0001": "pending in both: the customer is still paying (created 5 minutes ago)",
    "PSK-AMOUNT-0001": "success in both, but the DB expects 450,000,000 kobo "
                       "and Paystack took 45,000,000",
    "PSK-CURRENCY-0001": "success in both, same amount, but the DB says USD, Paystack NGN",
    "PSK-GHOST-0001": "pending in the DB (~1h ago), unknown to Paystack",
    "PSK-ORPHAN-0001": "success at Paystack (~26h ago), not in the DB at all; "
                       "its inbox event failed (unknown reference)",
    "PSK-MISSED-0001": "success at Paystack ~3 days ago, pending in the DB, no inbox event "
                       "(found by a 30d webhook gap scan)",
    "PSK-REFUND-0001": "success in both, paid 3 days ago, refundable (15,000,000 kobo)",
    "PSK-REFUNDED-0001": "refunded in the DB (refund_reference set), "
                         "reversed at Paystack with a processed refund",
    # The refund cases (runbook: Refund Processing) and the subscription states, one organization each.
    "PSK-ELIGIBLE-0001": "success in both, paid 5 days ago, subscription active, never refunded: "
                         "refund eligible (Eko Bakery Ltd)",
    "PSK-LATE-0001": "success in both, paid 45 days ago (annual plan, still active): "
                     "outside the 30-day refund window (Jos Plateau Farms)",
    "PSK-PSREFUNDED-0001": "success in the DB, reversed at Paystack with a processed full refund the app "
                           "never recorded (Calabar Coastal Tours)",
    "PSK-PARTIAL-0001": "success in both, 5,000,000 of 15,000,000 kobo refunded (processed at Paystack, "
                        "recorded here): 10,000,000 left (Owerri Tech Hub)",
    "PSK-EXPIRING-0001": "success in both, paid 26 days ago: the monthly period ends within 7 days "
                         "(Yola Water Services)",
    # The dunning cases Paystack answers with "do not retry now" (issue 8).
    "PSK-REGULATED-0001": "failed in both (Declined); dunning active 1/4, next retry tomorrow; the card is regulated: "
                          "a retry answers \"Charge attempt cannot be fulfilled until 1440 minutes\" "
                          "(Kano Textile Mills)",
    "PSK-2FA-0001": "failed in both (Declined); dunning active 1/4, next retry tomorrow; the card's bank wants 2FA: "
                    "a retry pauses with an authorization URL for the customer (Enugu Pharmacy Group)",
}
# fmt: on

MONTHLY_PRICE = {"core": 5_000_000, "professional": 15_000_000, "enterprise": 45_000_000}
PRO, CORE = MONTHLY_PRICE["professional"], MONTHLY_PRICE["core"]
ANNUAL_PRO = 10 * PRO  # an annual plan costs ten months
FIRST_SEEDED_TRANSACTION_ID = 4_099_260_401
SEEDED_REFUND_ID = 3_018_280
_NS = uuid.UUID("6f1c3b2a-9d4e-4c1b-8a57-3e2f1d0c9b8a")


def stable_id(kind: str, key: str) -> str:
    return str(uuid.uuid5(_NS, f"{kind}/{key}"))


def stable_hex(key: str, size: int) -> str:
    return hashlib.sha1(key.encode()).hexdigest()[:size]  # noqa: S324 - deterministic ids only


@dataclass(frozen=True)
class Org:
    slug: str
    name: str
    email: str
    first_name: str
    last_name: str
    tier: str
    billing_cycle: str
    n: int
    state: str  # active | past_due (period over, still is_active) | trial | cancelled
    card: tuple[str, str, str, str, str] | None  # bin, last4, brand, bank, exp_year
    card_failure: str | None = None  # what charging the saved card answers (None = success)
    card_2fa: bool = False  # charging the saved card pauses for the customer's 2FA approval

    @property
    def id(self) -> str:
        return stable_id("org", self.slug)

    @property
    def phone(self) -> str:
        return f"+23480312345{self.n:02d}"

    @property
    def customer_id(self) -> int:
        return 181_873_746 + self.n

    @property
    def customer_code(self) -> str:
        return "CUS_" + stable_hex("customer/" + self.slug, 15)

    @property
    def authorization_code(self) -> str:
        return "AUTH_" + stable_hex("auth/" + self.slug, 10)


# Paystack's card regulation (reference section 4): the card may be charged once per 24 h.
REGULATED_ANSWER = "Charge attempt cannot be fulfilled until 1440 minutes"

# fmt: off
ORGS: tuple[Org, ...] = (
    Org("adaeze", "Adaeze Foods Ltd", "finance@adaezefoods.ng", "Adaeze", "Okonkwo",
        "professional", "monthly", 1, "active", ("408408", "4081", "visa", "TEST BANK", "2030")),
    Org("bluewave", "Bluewave Logistics", "accounts@bluewave.com.ng", "Emeka", "Eze",
        "professional", "monthly", 2, "past_due",
        ("539983", "8381", "mastercard", "Access Bank", "2029")),
    Org("kora", "Kora Health Clinics", "billing@korahealth.ng", "Funmi", "Adebayo",
        "professional", "monthly", 3, "trial", ("506099", "1029", "verve", "Zenith Bank", "2028")),
    Org("lagosprint", "Lagos Print House", "admin@lagosprint.ng", "Bisi", "Lawal",
        "core", "monthly", 4, "past_due", ("408408", "5521", "visa", "GTBank", "2031")),
    Org("nnamdi", "Nnamdi & Sons Hardware", "pay@nnamdisons.ng", "Nnamdi", "Okeke",
        "core", "monthly", 5, "past_due",
        ("539923", "0407", "mastercard", "First Bank", "2027"), "Insufficient Funds"),
    Org("sahel", "Sahel Agro Cooperative", "finance@sahelagro.ng", "Aisha", "Bello",
        "professional", "monthly", 6, "past_due", ("408408", "7730", "visa", "UBA", "2029")),
    Org("tunde", "Tunde Okafor Consulting", "hello@tundeokafor.com", "Tunde", "Okafor",
        "professional", "monthly", 7, "trial", None),
    Org("zenith", "Zenith Schools Group", "bursar@zenithschools.edu.ng", "Ngozi", "Umeh",
        "enterprise", "annual", 8, "active",
        ("539983", "2214", "mastercard", "Stanbic IBTC", "2030")),
    Org("ifeoma", "Ifeoma Studio", "studio@ifeoma.design", "Ifeoma", "Nwosu",
        "professional", "monthly", 9, "active", ("408408", "3317", "visa", "Kuda Bank", "2028")),
    Org("delta", "Delta Freight Partners", "ops@deltafreight.ng", "Efe", "Oghene",
        "core", "monthly", 10, "cancelled", ("506099", "6620", "verve", "Fidelity Bank", "2027")),
    Org("harmattan", "Harmattan Media", "billing@harmattan.media", "Kunle", "Adeyemi",
        "professional", "monthly", 11, "active", ("408408", "9154", "visa", "Wema Bank", "2031")),
    Org("obi", "Obi Motors", "accounts@obimotors.ng", "Chidi", "Obi",
        "core", "monthly", 12, "cancelled",
        ("539923", "4470", "mastercard", "Polaris Bank", "2028")),
    # Added for refunds and subscriptions (issue 7): one documented case each.
    Org("eko", "Eko Bakery Ltd", "accounts@ekobakery.ng", "Tola", "Bakare",
        "professional", "monthly", 13, "active", ("408408", "6402", "visa", "Sterling Bank", "2030")),
    Org("jos", "Jos Plateau Farms", "finance@josplateaufarms.ng", "Danjuma", "Gyang",
        "professional", "annual", 14, "active", ("539983", "7781", "mastercard", "Jaiz Bank", "2029")),
    Org("calabar", "Calabar Coastal Tours", "bookings@calabartours.ng", "Eno", "Bassey",
        "core", "monthly", 15, "active", ("506099", "3388", "verve", "Union Bank", "2028")),
    Org("owerri", "Owerri Tech Hub", "billing@owerritech.ng", "Obinna", "Nwachukwu",
        "professional", "monthly", 16, "active", ("408408", "1177", "visa", "Providus Bank", "2031")),
    Org("yola", "Yola Water Services", "accounts@yolawater.ng", "Hauwa", "Jibril",
        "core", "monthly", 17, "active", ("539923", "9046", "mastercard", "Keystone Bank", "2030")),
    # Added for dunning (issue 8): Paystack's do-not-retry answers, one organization each.
    Org("kano", "Kano Textile Mills", "accounts@kanotextiles.ng", "Sani", "Musa",
        "core", "monthly", 18, "past_due", ("506099", "5132", "verve", "Unity Bank", "2029"),
        REGULATED_ANSWER),
    Org("enugu", "Enugu Pharmacy Group", "billing@enugupharmacy.ng", "Chioma", "Eze",
        "professional", "monthly", 19, "past_due", ("539983", "6048", "mastercard", "Ecobank", "2030"),
        card_2fa=True),
)
# fmt: on
ORG_BY_SLUG = {org.slug: org for org in ORGS}
ORG_IDS: dict[str, str] = {org.slug: org.id for org in ORGS}
TENANT_STATES: dict[str, str] = {org.slug: org.state for org in ORGS}
# Documented organizations per subscription state (README, runbook/subscriptions.md).
SUBSCRIPTION_EXAMPLES: dict[str, str] = {
    "active": "Adaeze Foods Ltd",
    "trial": "Kora Health Clinics",
    "past_due": "Bluewave Logistics",
    "cancelled": "Delta Freight Partners",
    "expiring": "Yola Water Services",
}
CANCELLATION_REASONS = {
    "delta": "Customer requested refund",
    "obi": "Payment failed after 4 dunning attempts",
}


@dataclass(frozen=True)
class Pay:
    """One payment; `db` / `ps` is its status in the DB / at Paystack (None = absent there)."""

    ref: str
    org: str
    amount: int
    db: str | None
    ps: str | None
    age: timedelta  # created this long before `now`
    currency: str = "NGN"
    ps_amount: int | None = None
    ps_currency: str | None = None
    entry: str = "charge_authorization"  # or transaction_initialize (checkout)
    channel: str = "card"
    failure: str | None = None
    inbox: tuple[str, int, str | None] | None = None  # charge.success: (status, attempts, error)
    batch: int = 0  # Paystack ids go by (batch, age): payments added later keep existing ids unchanged


def _d(days: float = 0, hours: float = 0, minutes: float = 0) -> timedelta:
    return timedelta(days=days, hours=hours, minutes=minutes)


OK_EVENT = ("processed", 1, None)
CHECKOUT = "transaction_initialize"
# fmt: off
PAYMENTS: tuple[Pay, ...] = (
    Pay("PSK-HIST-0011", "obi", CORE, "success", "success", _d(75), inbox=OK_EVENT),
    Pay("PSK-HIST-0012", "obi", CORE, "failed", "failed", _d(44), failure="Insufficient Funds"),
    Pay("PSK-HIST-0010", "delta", PRO, "success", "success", _d(42), inbox=OK_EVENT),
    Pay("PSK-HIST-0006", "sahel", PRO, "success", "success", _d(40), inbox=OK_EVENT),
    Pay("PSK-HIST-0001", "adaeze", PRO, "failed", "failed", _d(37), failure="Insufficient Funds"),
    Pay("PSK-HIST-0005", "nnamdi", CORE, "success", "success", _d(36), inbox=OK_EVENT),
    Pay("PSK-HIST-0002", "adaeze", PRO, "success", "success", _d(35), inbox=OK_EVENT),
    Pay("PSK-HIST-0004", "lagosprint", CORE, "success", "success", _d(34), inbox=OK_EVENT),
    Pay("PSK-HIST-0009", "ifeoma", PRO, "success", "success", _d(33), inbox=OK_EVENT),
    Pay("PSK-HIST-0003", "bluewave", PRO, "success", "success", _d(32), inbox=OK_EVENT),
    Pay("PSK-REFUNDED-0001", "delta", PRO, "refunded", "reversed", _d(12), inbox=OK_EVENT),
    Pay("PSK-HIST-0007", "sahel", PRO, "failed", "failed", _d(9), failure="Insufficient Funds"),
    Pay("PSK-HIST-0008", "tunde", PRO, "abandoned", "abandoned", _d(8), entry=CHECKOUT),
    Pay("PSK-FAILED-0002", "sahel", PRO, "failed", "failed", _d(6), failure="Declined"),
    Pay("PSK-OK-0001", "adaeze", PRO, "success", "success", _d(5), inbox=OK_EVENT),
    Pay("PSK-FAILED-0001", "nnamdi", CORE, "failed", "failed", _d(4), failure="Insufficient Funds"),
    Pay("PSK-MISSED-0001", "lagosprint", CORE, "pending", "success", _d(3, hours=2)),
    Pay("PSK-REFUND-0001", "ifeoma", PRO, "success", "success", _d(3), inbox=OK_EVENT),
    Pay("PSK-AMOUNT-0001", "zenith", 450_000_000, "success", "success", _d(2),
        ps_amount=45_000_000, entry=CHECKOUT, inbox=OK_EVENT),
    Pay("PSK-ORPHAN-0001", "harmattan", PRO, None, "success", _d(hours=26), entry=CHECKOUT,
        channel="bank_transfer",
        inbox=("failed", 2, "no payment_transactions row for reference PSK-ORPHAN-0001")),
    Pay("PSK-CURRENCY-0001", "harmattan", 10_000, "success", "success", _d(1), currency="USD",
        ps_currency="NGN", entry=CHECKOUT, inbox=OK_EVENT),
    Pay("PSK-STUCK-0003", "obi", CORE, "pending", "success", _d(hours=20), entry=CHECKOUT,
        inbox=("failed", 5, "HTTP 500: KeyError: 'plan_code' in process_successful_payment")),
    Pay("PSK-STUCK-0002", "kora", PRO, "pending", "success", _d(hours=6), entry=CHECKOUT,
        inbox=("failed", 3, "OperationalError: QueuePool limit of size 5 overflow 10 reached, "
                            "connection timed out, timeout 30.00")),
    Pay("PSK-ABANDONED-0001", "tunde", PRO, "pending", "abandoned", _d(hours=3), entry=CHECKOUT),
    Pay("PSK-STUCK-0001", "bluewave", PRO, "pending", "success", _d(hours=2), entry=CHECKOUT),
    Pay("PSK-GHOST-0001", "bluewave", PRO, "pending", None, _d(hours=1), entry=CHECKOUT),
    Pay("PSK-PENDING-0001", "tunde", PRO, "pending", "pending", _d(minutes=5), entry=CHECKOUT,
        channel="bank_transfer"),
    # issue 7: the refund cases and an expiring subscription
    Pay("PSK-LATE-0001", "jos", ANNUAL_PRO, "success", "success", _d(45), entry=CHECKOUT, inbox=OK_EVENT,
        batch=1),
    Pay("PSK-EXPIRING-0001", "yola", CORE, "success", "success", _d(26), inbox=OK_EVENT, batch=1),
    Pay("PSK-PSREFUNDED-0001", "calabar", CORE, "success", "reversed", _d(10), inbox=OK_EVENT, batch=1),
    Pay("PSK-PARTIAL-0001", "owerri", PRO, "success", "success", _d(8), inbox=OK_EVENT, batch=1),
    Pay("PSK-ELIGIBLE-0001", "eko", PRO, "success", "success", _d(5), inbox=OK_EVENT, batch=1),
    # issue 9: one case per reconcile category the first seeds did not cover (RECONCILE_CASES)
    Pay("PSK-REFUNDMM-0001", "harmattan", PRO, "success", "success", _d(9), inbox=OK_EVENT, batch=2),
    Pay("PSK-WEBHOOK-0001", "ifeoma", PRO, "success", "success", _d(10), batch=2,
        inbox=("received", 0, None)),
    Pay("PSK-NOTENT-0001", "tunde", PRO, "success", "success", _d(6), entry=CHECKOUT, channel="bank_transfer",
        inbox=OK_EVENT, batch=2),
    # issue 8: a regulated card and a card that needs 2FA, each with its last paid month and a failed renewal
    Pay("PSK-HIST-0013", "kano", CORE, "success", "success", _d(38), inbox=OK_EVENT, batch=3),
    Pay("PSK-REGULATED-0001", "kano", CORE, "failed", "failed", _d(7), failure="Declined", batch=3),
    Pay("PSK-HIST-0014", "enugu", PRO, "success", "success", _d(39), inbox=OK_EVENT, batch=3),
    Pay("PSK-2FA-0001", "enugu", PRO, "failed", "failed", _d(8), failure="Declined", batch=3),
)

# Refunds the app recorded that Paystack never made: reference -> amount recorded (no sim_refunds row).
RECORDED_ONLY_REFUNDS: dict[str, int] = {"PSK-REFUNDMM-0001": 5_000_000}

# `reconcile --since 30d` on a fresh sandbox: where each seeded inconsistency lands (README, runbook).
# A reference may land in two categories (a stuck payment whose webhook failed is also in
# webhook_never_processed); --fix settles stuck, not_paid and paid_not_entitled (and entitles what it settles).
RECONCILE_CASES: dict[str, tuple[str, ...]] = {
    "stuck": ("PSK-MISSED-0001", "PSK-STUCK-0001", "PSK-STUCK-0002", "PSK-STUCK-0003"),
    "not_paid": ("PSK-ABANDONED-0001",),
    "ghost": ("PSK-GHOST-0001",),
    "missing_here": ("PSK-ORPHAN-0001",),
    "amount_or_currency_mismatch": ("PSK-AMOUNT-0001", "PSK-CURRENCY-0001"),
    "refunded_at_paystack_only": ("PSK-PSREFUNDED-0001",),
    "refund_amount_mismatch": ("PSK-REFUNDMM-0001",),
    "webhook_never_processed": ("PSK-ORPHAN-0001", "PSK-STUCK-0002", "PSK-STUCK-0003", "PSK-WEBHOOK-0001"),
    "paid_not_entitled": ("PSK-NOTENT-0001",),
}
RECONCILE_CASE_NOTES: dict[str, str] = {
    "PSK-REFUNDMM-0001": "success in both; the DB records a 5,000,000 kobo refund that Paystack never made "
    "(Harmattan Media)",
    "PSK-WEBHOOK-0001": "success in both (the app settled it from the callback); its charge.success event "
    "was received but never processed: the worker lost it (Ifeoma Studio)",
    "PSK-NOTENT-0001": "success in both, paid 6 days ago, but the subscription is still a trial (Tunde Okafor "
    "Consulting)",
}

# Refunds at Paystack beyond PSK-REFUNDED-0001's: reference, refund id, amount (None = all),
# days after payment, recorded in payment_transactions too?
SEEDED_REFUNDS: tuple[tuple[str, int, int | None, int, bool], ...] = (
    ("PSK-PSREFUNDED-0001", SEEDED_REFUND_ID + 1, None, 3, False),
    ("PSK-PARTIAL-0001", SEEDED_REFUND_ID + 2, 5_000_000, 1, True),
)

# Dunning: org, payment, status, attempts so far, next retry (offset from now), last reason.
DUNNING: tuple[tuple[str, str, str, int, timedelta | None, str], ...] = (
    ("nnamdi", "PSK-FAILED-0001", "active", 1, _d(1), "Insufficient Funds"),
    ("sahel", "PSK-FAILED-0002", "active", 2, -_d(hours=1), "Declined"),
    ("obi", "PSK-HIST-0012", "exhausted", 4, None, "Insufficient Funds"),
    ("adaeze", "PSK-HIST-0001", "recovered", 1, None, "Insufficient Funds"),
    # next retry tomorrow (not due now, so the dunning-storm drill's "due now" is its own); `dunning retry` runs them
    ("kano", "PSK-REGULATED-0001", "active", 1, _d(hours=20), "Declined"),
    ("enugu", "PSK-2FA-0001", "active", 1, _d(hours=22), "Declined"),
)
# fmt: on
PAY_BY_REF = {p.ref: p for p in PAYMENTS}
