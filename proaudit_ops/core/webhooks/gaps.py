"""`webhooks gaps`: Paystack successes the app never processed; `--replay` delivers them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from proaudit_ops.core.webhooks.delivery import DELIVERED, UNKNOWN, Delivery
from proaudit_ops.core.webhooks.inbox import processed_references
from proaudit_ops.core.webhooks.replay import REPLAY_ACTION, deliver_transaction
from proaudit_ops.errors import ExitCode, Interrupted
from proaudit_ops.money import Money
from proaudit_ops.protocols.approval import Confirm, Proposal, gate
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
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


@dataclass(frozen=True)
class GapsResult:
    since: datetime
    scanned: int  # Paystack successes in the window
    not_in_database: list[str]  # not ours to replay (another integration, or payments verify)
    gaps: list[Gap]
    outcome: str | None = None  # with --replay: delivered | planned | aborted | nothing
    replays: list[GapReplay] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        if self.outcome == "aborted":
            return ExitCode.REFUSED
        if self.outcome == "delivered":
            if any(r.verdict == UNKNOWN for r in self.replays):
                return ExitCode.UNKNOWN_OUTCOME
            return ExitCode.OK if all(r.verdict == DELIVERED for r in self.replays) else ExitCode.FINDING
        return ExitCode.FINDING if self.gaps else ExitCode.OK


def find_gaps(runtime: Runtime, since: timedelta, progress: Callable[[int, int], None] | None = None) -> GapsResult:
    from sqlalchemy import select

    from proaudit_ops.db.engine import read_only
    from proaudit_ops.db.schema import payment_transactions as pt

    start = utcnow() - since
    successes = list(runtime.paystack().iter_transactions(status="success", from_=start, use_cursor=True))
    refs = [tx.reference for tx in successes]
    rows: dict[str, str] = {}
    with read_only(runtime.engine()) as conn:
        for i in range(0, len(refs), 500):
            chunk = refs[i : i + 500]
            rows.update(
                {
                    r.reference: r.status
                    for r in conn.execute(select(pt.c.reference, pt.c.status).where(pt.c.reference.in_(chunk)))
                }
            )
        processed = processed_references(conn, [r for r in refs if r in rows])
    gaps: list[Gap] = []
    missing: list[str] = []
    for tx in successes:
        status = rows.get(tx.reference)
        if status is None:
            missing.append(tx.reference)
            continue
        if status == "pending" or tx.reference not in processed:
            reason = "payment still pending" if status == "pending" else "no processed charge.success event"
            gaps.append(Gap(tx.reference, Money(tx.amount, tx.currency), tx.paid_at, status, reason, tx))
    return GapsResult(since=start, scanned=len(successes), not_in_database=missing, gaps=gaps)


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
    return replace(found, outcome="delivered", replays=replays)
