"""`webhooks retry-failed`: redeliver the inbox's failed events, original bytes, fresh signature.

Every attempt is recorded as soon as it completes (the attempts that completed together share a
transaction), with the verdict the screen shows. On Ctrl-C nothing new is sent; the attempts in
flight are awaited (the HTTP timeout bounds the wait) and recorded, and a second Ctrl-C records
them as `unknown`. The error then says what was done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from proaudit_ops.core.webhooks.delivery import (
    AUDIT_OUTCOME,
    DELIVERED,
    STILL_FAILING,
    UNKNOWN,
    Delivery,
    deliver,
    interrupted,
)
from proaudit_ops.core.webhooks.delivery import verdict as judge
from proaudit_ops.core.webhooks.inbox import InboxEvent, failed_events, statuses
from proaudit_ops.errors import ExitCode, Interrupted, ProauditError
from proaudit_ops.paystack.signatures import compute_signature
from proaudit_ops.protocols.approval import Confirm, Proposal, gate
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from proaudit_ops.audit import AuditEntry
    from proaudit_ops.protocols.guard import ApplyOptions
    from proaudit_ops.runtime import Runtime

REDELIVER_ACTION = "webhooks.redeliver"
AUDIT_BATCH = 200  # at most this many records per audit transaction


@dataclass(frozen=True)
class Redelivery:
    event_id: str
    event_type: str
    reference: str | None
    delivery: Delivery
    inbox_status: str | None = None
    inbox_error: str | None = None
    # delivered | still failing | unknown: what the screen shows and the audit record says.
    verdict: str = ""
    audit_seq: int | None = None

    def __post_init__(self) -> None:
        if not self.verdict:
            object.__setattr__(self, "verdict", judge(self.delivery, self.inbox_status))


@dataclass(frozen=True)
class RetryFailedResult:
    since: datetime
    url: str
    outcome: str  # delivered | planned | aborted | nothing
    pending: list[str] = field(default_factory=list)  # what a dry run would redeliver
    redeliveries: list[Redelivery] = field(default_factory=list)

    @property
    def delivered(self) -> list[Redelivery]:
        return [r for r in self.redeliveries if r.verdict == DELIVERED]

    @property
    def still_failing(self) -> list[Redelivery]:
        return [r for r in self.redeliveries if r.verdict == STILL_FAILING]

    @property
    def unknown(self) -> list[Redelivery]:
        return [r for r in self.redeliveries if r.verdict == UNKNOWN]

    @property
    def exit_code(self) -> ExitCode:
        if self.outcome == "aborted":
            return ExitCode.REFUSED
        if self.unknown:
            return ExitCode.UNKNOWN_OUTCOME
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

    starts: dict[str, float] = {}

    def one(event: InboxEvent) -> Delivery:
        starts[event.id] = time.perf_counter()
        body = event.raw_body  # the bytes as first received; only the signature is fresh
        return deliver(client, target, body, compute_signature(body, key))

    recorder = _Recorder(runtime, len(events), progress)
    workers = max(1, concurrency)
    queue = iter(events)
    # At most `workers` attempts exist at a time (none queued in the pool), so after a Ctrl-C
    # nothing new starts: what was not yet submitted was never sent.
    inflight: dict[Future[Delivery], InboxEvent] = {}
    pool = ThreadPoolExecutor(max_workers=workers)

    def top_up() -> None:
        while len(inflight) < workers:
            event = next(queue, None)
            if event is None:
                return
            inflight[pool.submit(one, event)] = event

    try:
        top_up()
        while inflight:
            finished, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            batch = [(inflight[f], _outcome(f, target, starts, inflight[f].id)) for f in finished]
            stop = any(isinstance(f.exception(), KeyboardInterrupt) for f in finished)
            for f in finished:
                del inflight[f]
            if not stop:
                top_up()  # before recording: the app is never idle while the audit log writes
            recorder.record(batch)
            if stop:
                raise KeyboardInterrupt  # raised inside an attempt: stop like a Ctrl-C in the main thread
    except BaseException as exc:
        _stop(inflight, recorder, target, starts)
        pool.shutdown(wait=False, cancel_futures=True)
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted(recorder.summary(), hint=_INTERRUPT_HINT) from None
        raise
    pool.shutdown()
    return RetryFailedResult(since, target, "delivered", redeliveries=recorder.in_order([e.id for e in events]))


_INTERRUPT_HINT = "see them with `proaudit audit log`; rerun retry-failed for the rest (the app deduplicates)"


def _outcome(future: Future[Delivery], url: str, starts: dict[str, float], event_id: str) -> Delivery:
    try:
        return future.result()
    except BaseException:  # an interrupt (or a bug) inside the attempt: it may have reached the app
        return interrupted(url, starts.get(event_id, time.perf_counter()))


def _stop(
    inflight: dict[Future[Delivery], InboxEvent], recorder: _Recorder, url: str, starts: dict[str, float]
) -> None:
    """After an interrupt or an error: record what completed and wait for (then record) what was in flight."""
    left = [f for f in inflight if inflight[f].id not in recorder.done]
    try:
        wait(left)  # bounded by the app client's timeout
        recorder.record([(inflight[f], _outcome(f, url, starts, inflight[f].id)) for f in left])
    except BaseException:  # a second Ctrl-C: what is still open is recorded as unknown
        recorder.record(
            [
                (
                    inflight[f],
                    _outcome(f, url, starts, inflight[f].id)
                    if f.done()
                    else interrupted(url, starts.get(inflight[f].id, time.perf_counter())),
                )
                for f in left
            ]
        )


class _Recorder:
    """Writes each completed attempt's audit record with the inbox status read at that moment."""

    def __init__(self, runtime: Runtime, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.runtime = runtime
        self.total = total
        self.progress = progress
        self.done: dict[str, Redelivery] = {}

    def record(self, attempts: list[tuple[InboxEvent, Delivery]]) -> None:
        attempts = [(e, d) for e, d in attempts if e.id not in self.done]
        for start in range(0, len(attempts), AUDIT_BATCH):
            self._write(attempts[start : start + AUDIT_BATCH])
        if attempts and self.progress:
            self.progress(len(self.done), self.total)

    def _write(self, batch: list[tuple[InboxEvent, Delivery]]) -> None:
        from proaudit_ops.db.engine import write_tx

        s = self.runtime.settings
        log = self.runtime.audit_log()
        engine = self.runtime.engine()
        try:
            with write_tx(
                engine,
                lock_timeout_ms=s.proaudit_lock_timeout_ms,
                statement_timeout_ms=s.proaudit_statement_timeout_ms,
            ) as conn:
                now = statuses(conn, [e.id for e, _ in batch])
                made = [_redelivery(e, d, *now.get(e.id, (None, None))) for e, d in batch]
                records = log.append_many(conn, [_entry(r) for r in made])
        except ProauditError:
            # The database cannot take them: the fallback file must (the verdict from HTTP alone).
            made = [_redelivery(e, d, None, None) for e, d in batch]
            records = [log.append_fallback(_entry(r)) for r in made]
        for r, rec in zip(made, records, strict=True):
            self.done[r.event_id] = replace(r, audit_seq=rec.seq if rec.stored_in == "table" else None)

    def in_order(self, ids: list[str]) -> list[Redelivery]:
        return [self.done[i] for i in ids if i in self.done]

    def summary(self) -> str:
        rs = list(self.done.values())
        counts = {v: sum(1 for r in rs if r.verdict == v) for v in (DELIVERED, STILL_FAILING, UNKNOWN)}
        return (
            f"interrupted after {len(rs)} of {self.total} redelivery attempt(s): "
            f"{counts[DELIVERED]} delivered, {counts[STILL_FAILING]} still failing, "
            f"{counts[UNKNOWN]} with an unknown outcome, all recorded in the audit log; "
            f"{self.total - len(rs)} not sent"
        )


def _redelivery(event: InboxEvent, delivery: Delivery, status: str | None, error: str | None) -> Redelivery:
    return Redelivery(event.id, event.event_type, event.reference, delivery, status, error)


def _entry(r: Redelivery) -> AuditEntry:
    from proaudit_ops.audit import AuditEntry

    return AuditEntry(
        action=REDELIVER_ACTION,
        target=r.reference or r.event_id,
        outcome=AUDIT_OUTCOME[r.verdict],
        after={
            "event_id": r.event_id,
            "event": r.event_type,
            "url": r.delivery.url,
            "verdict": r.verdict,
            "status_code": r.delivery.status_code,
            "latency_ms": r.delivery.latency_ms,
            "error": r.delivery.error,
            "inbox_status": r.inbox_status,
            "inbox_error": r.inbox_error,
        },
    )
