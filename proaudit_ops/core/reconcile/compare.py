"""Every category computed in the database: the staged Paystack rows joined with payment_transactions
and the webhook inbox. Each category is one streamed query (reference, amount at stake, currency);
only the first `max_refs` references are kept, the count and the amounts cover all of them.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from proaudit_ops.core.entitlement import BillingMetadata

# name -> (fixable by --fix, what it means)
CATEGORIES: dict[str, tuple[bool, str]] = {
    "stuck": (True, "success at Paystack, pending here"),
    "not_paid": (True, "failed or abandoned at Paystack, pending here"),
    "ghost": (False, "here (in the window), unknown to Paystack"),
    "missing_here": (False, "success at Paystack, no payment row here"),
    "amount_or_currency_mismatch": (False, "amount or currency differ (never auto-fixed)"),
    "refunded_at_paystack_only": (False, "refunded at Paystack, not recorded here"),
    "refund_amount_mismatch": (False, "the refund recorded here differs from Paystack's"),
    "webhook_never_processed": (False, "success at Paystack, its charge.success event never processed"),
    "paid_not_entitled": (True, "paid, but the subscription does not cover what the payment bought"),
}
FIXABLE = frozenset(name for name, (fixable, _) in CATEGORIES.items() if fixable)


@dataclass
class Category:
    name: str
    count: int = 0
    amounts: dict[str, int] = field(default_factory=dict)  # currency -> subunits at stake
    references: list[str] = field(default_factory=list)
    truncated: bool = False
    fixable: bool = False
    meaning: str = ""
    stakes: list[tuple[int, str]] = field(default_factory=list)  # per listed reference: amount, currency

    def add(self, reference: str, amount: int | None, currency: str | None, max_refs: int) -> None:
        self.count += 1
        key = currency or "?"
        self.amounts[key] = self.amounts.get(key, 0) + abs(int(amount or 0))
        if len(self.references) < max_refs:
            self.references.append(reference)
            self.stakes.append((abs(int(amount or 0)), key))
        else:
            self.truncated = True


def new_categories() -> dict[str, Category]:
    return {name: Category(name, fixable=fixable, meaning=meaning) for name, (fixable, meaning) in CATEGORIES.items()}


# The staged transactions of the run joined to the payment with the same reference.
_JOINED = """
FROM ops_reconcile_rows s
JOIN payment_transactions p ON p.reference = s.reference
WHERE s.run_id = :run AND s.kind = 'tx'
"""
_MISMATCH = (
    "(p.currency <> s.currency OR (p.amount_kobo <> s.amount AND p.amount_kobo <> COALESCE(s.requested_amount, -1)))"
)
_REFUNDED = """
LEFT JOIN (
  SELECT transaction_id, SUM(amount) AS refunded FROM ops_reconcile_rows
  WHERE run_id = :run AND kind = 'refund' AND status <> 'failed' GROUP BY transaction_id
) r ON r.transaction_id = s.paystack_id
"""

QUERIES: dict[str, str] = {
    "stuck": f"SELECT s.reference, s.amount, s.currency {_JOINED} AND NOT {_MISMATCH} "
    "AND p.status = 'pending' AND s.status = 'success' ORDER BY s.reference",
    "not_paid": f"SELECT s.reference, p.amount_kobo, p.currency {_JOINED} AND NOT {_MISMATCH} "
    "AND p.status = 'pending' AND s.status IN ('failed', 'abandoned') ORDER BY s.reference",
    "ghost": "SELECT p.reference, p.amount_kobo, p.currency FROM payment_transactions p "
    "WHERE p.created_at >= :wfrom AND p.created_at <= :wto AND NOT EXISTS (SELECT 1 FROM ops_reconcile_rows s "
    "WHERE s.run_id = :run AND s.kind = 'tx' AND s.reference = p.reference) ORDER BY p.reference",
    "missing_here": "SELECT s.reference, s.amount, s.currency FROM ops_reconcile_rows s "
    "WHERE s.run_id = :run AND s.kind = 'tx' AND s.status = 'success' AND NOT EXISTS "
    "(SELECT 1 FROM payment_transactions p WHERE p.reference = s.reference) ORDER BY s.reference",
    "amount_or_currency_mismatch": "SELECT s.reference, CASE WHEN p.currency = s.currency "
    f"THEN p.amount_kobo - s.amount ELSE p.amount_kobo END, p.currency {_JOINED} AND {_MISMATCH} "
    "ORDER BY s.reference",
    "refunded_at_paystack_only": "SELECT s.reference, r.refunded, s.currency FROM ops_reconcile_rows s "
    f"JOIN payment_transactions p ON p.reference = s.reference {_REFUNDED} "
    "WHERE s.run_id = :run AND s.kind = 'tx' AND r.refunded > 0 AND p.refund_amount_kobo IS NULL "
    "AND p.refund_reference IS NULL AND p.status NOT IN ('refunded', 'reversed') ORDER BY s.reference",
    "refund_amount_mismatch": "SELECT s.reference, COALESCE(p.refund_amount_kobo, p.amount_kobo) "
    "- COALESCE(r.refunded, 0), s.currency FROM ops_reconcile_rows s "
    f"JOIN payment_transactions p ON p.reference = s.reference {_REFUNDED} "
    "WHERE s.run_id = :run AND s.kind = 'tx' "
    "AND (p.refund_amount_kobo IS NOT NULL OR p.status IN ('refunded', 'reversed')) "
    "AND COALESCE(r.refunded, 0) <> COALESCE(p.refund_amount_kobo, p.amount_kobo) ORDER BY s.reference",
    "webhook_never_processed": "SELECT s.reference, s.amount, s.currency FROM ops_reconcile_rows s "
    "WHERE s.run_id = :run AND s.kind = 'tx' AND s.status = 'success' "
    "AND EXISTS (SELECT 1 FROM webhook_events w WHERE w.reference = s.reference AND w.event_type = 'charge.success') "
    "AND NOT EXISTS (SELECT 1 FROM webhook_events w WHERE w.reference = s.reference "
    "AND w.event_type = 'charge.success' AND w.status = 'processed') ORDER BY s.reference",
}


def candidates_sql() -> str:
    """Paid on both sides and agreeing, with the organization's tenant_skus row: what paid_not_entitled checks."""
    return (
        "SELECT s.reference, s.amount, s.currency, s.metadata, p.organization_id, "
        "COALESCE(p.paid_at, s.paid_at) AS paid_at, k.tier, k.billing_cycle, k.is_active, k.trial_ends_at, "
        "k.current_period_end, k.id AS sku_id FROM ops_reconcile_rows s "
        "JOIN payment_transactions p ON p.reference = s.reference "
        "LEFT JOIN tenant_skus k ON k.organization_id = p.organization_id "
        f"WHERE s.run_id = :run AND s.kind = 'tx' AND NOT {_MISMATCH} AND p.status = 'success' "
        "AND s.status = 'success' AND COALESCE(p.paid_at, s.paid_at) IS NOT NULL ORDER BY s.reference"
    )


def compute(
    conn: Connection, run_id: str, window_from: datetime, window_to: datetime, now: datetime, max_refs: int
) -> dict[str, Category]:
    from sqlalchemy import bindparam, text

    from proaudit_ops.db.schema import UTCDateTime

    found = new_categories()
    params: dict[str, Any] = {"run": run_id, "wfrom": window_from, "wto": window_to}
    for name, sql in QUERIES.items():
        statement = text(sql)
        if ":wfrom" in sql:  # stored as timestamptz on PostgreSQL, naive UTC text on SQLite
            bounds = (bindparam("wfrom", type_=UTCDateTime()), bindparam("wto", type_=UTCDateTime()))
            statement = statement.bindparams(*bounds)
        result = conn.execution_options(yield_per=2_000).execute(statement, params)
        for reference, amount, currency in result:
            found[name].add(reference, amount, currency, max_refs)
    not_entitled(conn, run_id, now, found["paid_not_entitled"], max_refs)
    return found


@functools.lru_cache(maxsize=4096)
def _metadata(text: str | None) -> BillingMetadata | str:
    """parse_metadata, once per distinct text (an organization's payments carry the same metadata);
    an unusable one is its error message."""
    from proaudit_ops.core.entitlement import EntitlementError, parse_metadata

    try:
        return parse_metadata(text)
    except EntitlementError as exc:
        return str(exc)


def not_entitled(conn: Connection, run_id: str, now: datetime, into: Category, max_refs: int) -> None:
    """paid_not_entitled: entitlement.py's `bought` and `covers` over streamed candidate rows (the
    tenant_skus row comes with each, so there is no query per payment)."""
    from sqlalchemy import text

    from proaudit_ops.core.entitlement import EntitlementError, bought, covers
    from proaudit_ops.db.schema import UTCDateTime

    as_dt = UTCDateTime().process_result_value
    dialect = conn.dialect
    result = conn.execution_options(yield_per=2_000).execute(text(candidates_sql()), {"run": run_id})
    for row in result:
        paid_at = as_dt(row.paid_at, dialect)
        assert paid_at is not None
        sku = None
        if row.sku_id is not None:
            sku = {
                "tier": row.tier,
                "billing_cycle": row.billing_cycle,
                "is_active": bool(row.is_active),
                "trial_ends_at": as_dt(row.trial_ends_at, dialect),
                "current_period_end": as_dt(row.current_period_end, dialect),
            }
        try:
            # uuid.UUID: SQLite keeps a Uuid column as 32 hex digits, the metadata has the dashes.
            organization = str(uuid.UUID(str(row.organization_id)))
            meta = _metadata(row.metadata)
            if isinstance(meta, str):
                raise EntitlementError(meta)
            paid_for = bought(organization, meta, sku, paid_at)
        except EntitlementError:
            into.add(row.reference, row.amount, row.currency, max_refs)  # unusable metadata: a human decides
            continue
        if not covers(sku, paid_for, now).covered:
            into.add(row.reference, row.amount, row.currency, max_refs)
