"""`webhooks retry-failed`: redeliver the inbox's failed events, original bytes, fresh signature."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from proaudit_ops.core.webhooks.delivery import Delivery, deliver
from proaudit_ops.core.webhooks.inbox import InboxEvent, failed_events, statuses
from proaudit_ops.errors import ExitCode
from proaudit_ops.paystack.signatures import compute_signature
from proaudit_ops.protocols.approval import Confirm, Proposal, gate
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from proaudit_ops.protocols.guard import ApplyOptions
    from proaudit_ops.runtime import Runtime

REDELIVER_ACTION = "webhooks.redeliver"
AUDIT_BATCH = 200


@dataclass(frozen=True)
class Redelivery:
    event_id: str
    event_type: str
    reference: str | None
    delivery: Delivery
    inbox_status: str | None = None
    inbox_error: str | None = None


@dataclass(frozen=True)
class RetryFailedResult:
    since: datetime
    url: str
    outcome: str  # delivered | planned | aborted | nothing
    pending: list[str] = field(default_factory=list)  # what a dry run would redeliver
    redeliveries: list[Redelivery] = field(default_factory=list)

    @property
    def still_failing(self) -> list[Redelivery]:
        return [r for r in self.redeliveries if not r.delivery.ok or r.inbox_status == "failed"]

    @property
    def exit_code(self) -> ExitCode:
        if self.outcome == "aborted":
            return ExitCode.REFUSED
        return ExitCode.FINDING if self.still_failing else ExitCode.OK


def retry_failed(
    runtime: Runtime,
    *,
    hours: int,
    event_type: str | None,
    concurrency: int,
    options: ApplyOptions,
    confirm: Confirm,
    url: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RetryFailedResult:
    from proaudit_ops.db.engine import read_only

    since = utcnow() - timedelta(hours=hours)
    with read_only(runtime.engine()) as conn:
        events = failed_events(conn, since, event_type)
    client, target = runtime.app_endpoint(url)
    labels = [f"{e.event_type} {e.reference or e.id}" for e in events]
    if not events:
        return RetryFailedResult(since, target, "nothing")
    proposal = Proposal(
        action=REDELIVER_ACTION,
        target="bulk" if len(events) > 1 else (events[0].reference or events[0].id),
        summary=f"redeliver {len(events)} failed webhook event(s) to {target}",
        count=len(events),
        details=[
            {
                "event": e.event_type,
                "reference": e.reference,
                "attempts": e.attempts,
                "last_error": e.last_error,
            }
            for e in events
        ],
    )
    decision = gate(runtime, options, proposal, confirm)
    if decision != "go":
        return RetryFailedResult(since, target, decision, pending=labels)
    key = runtime.secret_key()

    def one(event: InboxEvent) -> Redelivery:
        body = event.raw_body  # the bytes as first received; only the signature is fresh
        return Redelivery(
            event.id,
            event.event_type,
            event.reference,
            deliver(client, target, body, compute_signature(body, key)),
        )

    done: list[Redelivery] = []
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for redelivery in pool.map(one, events):
            done.append(redelivery)
            if progress:
                progress(len(done), len(events))
            if len(done) % AUDIT_BATCH == 0:
                _audit(runtime, done[-AUDIT_BATCH:])
    if len(done) % AUDIT_BATCH:
        _audit(runtime, done[-(len(done) % AUDIT_BATCH) :])
    with read_only(runtime.engine()) as conn:
        now = statuses(conn, [r.event_id for r in done])
    final = [
        Redelivery(r.event_id, r.event_type, r.reference, r.delivery, *now.get(r.event_id, (None, None))) for r in done
    ]
    return RetryFailedResult(since, target, "delivered", redeliveries=final)


def _audit(runtime: Runtime, batch: list[Redelivery]) -> None:
    """One audit record per attempt, a batch per transaction (thousands of events stay fast)."""
    from proaudit_ops.audit import AuditEntry
    from proaudit_ops.db.engine import write_tx

    s = runtime.settings
    entries = [
        AuditEntry(
            action=REDELIVER_ACTION,
            target=r.reference or r.event_id,
            outcome="applied" if r.delivery.ok else "failed",
            after={
                "event_id": r.event_id,
                "event": r.event_type,
                "url": r.delivery.url,
                "status_code": r.delivery.status_code,
                "latency_ms": r.delivery.latency_ms,
                "error": r.delivery.error,
            },
        )
        for r in batch
    ]
    log = runtime.audit_log()
    with write_tx(
        runtime.engine(),
        lock_timeout_ms=s.proaudit_lock_timeout_ms,
        statement_timeout_ms=s.proaudit_statement_timeout_ms,
    ) as conn:
        log.append_many(conn, entries)
