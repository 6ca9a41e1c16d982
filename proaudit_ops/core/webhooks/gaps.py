"""`webhooks gaps`: Paystack successes the app never processed; `--replay` delivers them.

It also lists the payments that are success here and at Paystack but whose customer is not
entitled (`not_entitled`): a replay cannot fix those (the app answers "already applied" and
changes nothing), `payments verify REF --fix` does. Checked from the metadata on Paystack's list
pages already fetched and one read of the subscription rows: no extra HTTP call per payment.
After `--replay`, every replayed payment's entitlement is read back and reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.payments.entitled import ENTITLED, NOT_APPLICABLE, NOT_ENTITLED, EntitlementCheck, check
from proaudit_ops.core.webhooks.delivery import DELIVERED, UNKNOWN, Delivery
from proaudit_ops.core.webhooks.inbox import processed_references
from proaudit_ops.core.webhooks.replay import REPLAY_ACTION, deliver_transaction
from proaudit_ops.errors import ExitCode, Interrupted
from proaudit_ops.money import Money
from proaudit_ops.protocols.approval import Confirm, Proposal, gate
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from proaudit_ops.paystack import Transaction
    from proaudit_ops.protocols.guard import ApplyOptions
    from proaudit_ops.runtime import Runtime


@dataclass(frozen=True)
class Gap:
    reference: str
    amount: Money
    paid_at: datetime | None
    database_status: str
    reason: str  # "payment still pending" | "no processed charge.success event"
    _tx: Transaction | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class GapReplay:
    reference: str
    delivery: Delivery
    verdict: str = DELIVERED  # delivered | still failing | unknown: what the audit record says too
    entitlement: EntitlementCheck | None = None  # read back after a delivered replay


@dataclass(frozen=True)
class NotEntitled:
    """Success here and at Paystack, the subscription short of what it bought: not a replay's to fix."""

    reference: str
    amount: Money
    paid_at: datetime | None
    entitlement: EntitlementCheck
    next_step: str
    _tx: Transaction | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class GapsResult:
    since: datetime
    scanned: int  # Paystack successes in the window
    not_in_database: list[str]  # not ours to replay (another integration, or payments verify)
    gaps: list[Gap]
    outcome: str | None = None  # with --replay: delivered | planned | aborted | nothing
    replays: list[GapReplay] = field(default_factory=list)
    not_entitled: list[NotEntitled] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        if self.outcome == "aborted":
            return ExitCode.REFUSED
        if self.outcome == "delivered":
            if any(r.verdict == UNKNOWN for r in self.replays):
                return ExitCode.UNKNOWN_OUTCOME
            short = any(r.entitlement is not None and not _done(r.entitlement) for r in self.replays)
            if short or self.not_entitled:
                return ExitCode.FINDING
            return ExitCode.OK if all(r.verdict == DELIVERED for r in self.replays) else ExitCode.FINDING
        return ExitCode.FINDING if self.gaps or self.not_entitled else ExitCode.OK


def _done(check: EntitlementCheck) -> bool:
    return check.status in (ENTITLED, NOT_APPLICABLE)


def find_gaps(runtime: Runtime, since: timedelta, progress: Callable[[int, int], None] | None = None) -> GapsResult:
    from sqlalchemy import select

    from proaudit_ops.db.engine import read_only
    from proaudit_ops.db.schema import payment_transactions as pt

    start = utcnow() - since
    successes = list(runtime.paystack().iter_transactions(status="success", from_=start, use_cursor=True))
    refs = [tx.reference for tx in successes]
    rows: dict[str, dict[str, Any]] = {}
    columns = (pt.c.reference, pt.c.status, pt.c.organization_id, pt.c.paid_at)
    with read_only(runtime.engine()) as conn:
        for i in range(0, len(refs), 500):
            chunk = refs[i : i + 500]
            rows.update(
                {r.reference: dict(r._mapping) for r in conn.execute(select(*columns).where(pt.c.reference.in_(chunk)))}
            )
        processed = processed_references(conn, [r for r in refs if r in rows])
        skus = subscription_rows(conn, {str(r["organization_id"]) for r in rows.values() if r["status"] == "success"})
    gaps: list[Gap] = []
    missing: list[str] = []
    short: list[NotEntitled] = []
    now = utcnow()
    for tx in successes:
        row = rows.get(tx.reference)
        if row is None:
            missing.append(tx.reference)
            continue
        status = str(row["status"])
        if status == "pending" or tx.reference not in processed:
            reason = "payment still pending" if status == "pending" else "no processed charge.success event"
            gaps.append(Gap(tx.reference, Money(tx.amount, tx.currency), tx.paid_at, status, reason, tx))
        if status == "success":
            ent = check(row, skus.get(str(row["organization_id"])), tx.metadata, now)
            if ent.status not in (ENTITLED, NOT_APPLICABLE):
                short.append(_not_entitled(tx, ent))
    return GapsResult(since=start, scanned=len(successes), not_in_database=missing, gaps=gaps, not_entitled=short)


def _not_entitled(tx: Transaction, ent: EntitlementCheck) -> NotEntitled:
    if ent.status == NOT_ENTITLED and ent.fixable:
        step = f"proaudit payments verify {tx.reference} --fix"
    else:
        step = f"proaudit payments verify {tx.reference} (not auto-fixed: for a human)"
    return NotEntitled(tx.reference, Money(tx.amount, tx.currency), tx.paid_at, ent, step, tx)


def subscription_rows(conn: Connection, organization_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The tenant_skus rows of these organizations, by organization id, in chunks of 500."""
    from sqlalchemy import select

    from proaudit_ops.db.schema import tenant_skus as ts

    ids = sorted(organization_ids)
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(ids), 500):
        for row in conn.execute(select(ts).where(ts.c.organization_id.in_(ids[i : i + 500]))).mappings():
            out.setdefault(str(row["organization_id"]), dict(row))
    return out


def entitlements_now(runtime: Runtime, txs: list[Transaction]) -> dict[str, EntitlementCheck]:
    """Each payment's entitlement as the database has it now (one read; metadata from `txs`, no HTTP)."""
    from sqlalchemy import select

    from proaudit_ops.db.engine import read_only
    from proaudit_ops.db.schema import payment_transactions as pt

    refs = [tx.reference for tx in txs]
    rows: dict[str, dict[str, Any]] = {}
    with read_only(runtime.engine()) as conn:
        for i in range(0, len(refs), 500):
            query = select(pt).where(pt.c.reference.in_(refs[i : i + 500]))
            rows.update({str(r["reference"]): dict(r) for r in conn.execute(query).mappings()})
        skus = subscription_rows(conn, {str(r["organization_id"]) for r in rows.values()})
    now = utcnow()
    return {
        tx.reference: check(rows[tx.reference], skus.get(str(rows[tx.reference]["organization_id"])), tx.metadata, now)
        for tx in txs
        if tx.reference in rows
    }


def replay_gaps(
    runtime: Runtime,
    since: timedelta,
    options: ApplyOptions,
    confirm: Confirm,
    url: str | None = None,
) -> GapsResult:
    from dataclasses import replace

    found = find_gaps(runtime, since)
    if not found.gaps:
        return replace(found, outcome="nothing")
    client, target = runtime.app_endpoint(url)
    proposal = Proposal(
        action=REPLAY_ACTION,
        target="bulk" if len(found.gaps) > 1 else found.gaps[0].reference,
        summary=f"replay charge.success for {len(found.gaps)} payment(s) to {target}",
        count=len(found.gaps),
        details=[{"reference": g.reference, "amount": g.amount.format(), "reason": g.reason} for g in found.gaps],
    )
    decision = gate(runtime, options, proposal, confirm)
    if decision != "go":
        return replace(found, outcome=decision)
    replays: list[GapReplay] = []
    for gap in found.gaps:
        assert gap._tx is not None
        try:
            delivery, judged, _seq = deliver_transaction(runtime, client, target, gap._tx)
        except KeyboardInterrupt:
            done = sum(1 for r in replays if r.verdict == DELIVERED)
            raise Interrupted(
                f"interrupted after {len(replays)} of {len(found.gaps)} replay(s) ({done} delivered) while the "
                f"replay of {gap.reference} was in flight (recorded as unknown); "
                f"{len(found.gaps) - len(replays) - 1} not sent; every attempt is in the audit log",
                hint="rerun webhooks gaps --replay: the app deduplicates",
            ) from None
        replays.append(GapReplay(gap.reference, delivery, judged))
    # Read back what the replays (and nothing else) left: the customers entitled or not.
    txs = [g._tx for g in found.gaps if g._tx is not None] + [
        t for t in (n._tx for n in found.not_entitled) if t is not None
    ]
    after = entitlements_now(runtime, txs)
    replays = [replace(r, entitlement=after.get(r.reference)) if r.verdict == DELIVERED else r for r in replays]
    still = [
        replace(n, entitlement=after[n.reference])
        for n in found.not_entitled
        if n.reference in after and not _done(after[n.reference])
    ]
    return replace(found, outcome="delivered", replays=replays, not_entitled=still)
