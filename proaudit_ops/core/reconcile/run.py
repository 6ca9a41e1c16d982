"""`reconcile`: Paystack's transactions and refunds of a window, the payments table and the webhook
inbox, compared in the database. Streams Paystack's pages into the staging table (checkpointed),
computes every category in SQL, optionally fixes the fixable ones as one plan.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from proaudit_ops.core.reconcile.compare import Category, compute
from proaudit_ops.core.reconcile.fix import FixOutcome, plan_fix
from proaudit_ops.core.reconcile.source import (
    SourceChoice,
    api_pages,
    choose,
    estimate,
    export_pages,
    prefetched,
    refund_pages,
)
from proaudit_ops.core.reconcile.stage import RunState, Stage, StagedRow, ensure_tables
from proaudit_ops.crashpoints import crash_point
from proaudit_ops.errors import ExitCode, PaystackNotFound, UsageError
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from proaudit_ops.protocols.guard import ApplyOptions, GuardResult
    from proaudit_ops.protocols.plan import Plan
    from proaudit_ops.runtime import Runtime

# (pages staged, rows staged, rows expected or None)
Progress = Callable[[int, int, int | None], None]
MAX_REFERENCES = 1000  # listed per category; the count and the amounts always cover all
GHOST_VERIFY_LIMIT = 200  # ghosts are confirmed one by one at Paystack (the list window's edges)
SECONDS_PER_PAGE = 0.5  # for the time estimate in the source's reason
# Pages per commit (rows and checkpoint together): a commit per page costs more than the page itself
# on a busy server; an interrupted run pages again at most this many.
COMMIT_PAGES = 10


@dataclass
class ReconcileResult:
    window_from: datetime
    window_to: datetime
    source: str
    source_reason: str
    run_id: str
    resumed: bool
    pages: int
    rows: int
    duration_s: float
    categories: list[Category]
    fix_outcome: str | None = None  # applied | planned | aborted | nothing, with --fix
    fixed: list[str] = field(default_factory=list)
    fix_skipped: list[str] = field(default_factory=list)
    finished_at: datetime | None = None
    _guard: GuardResult | None = None
    _sql: list[str] | None = None

    @property
    def drift(self) -> int:
        """References still drifting after this run (a fixed one no longer counts)."""
        return sum(self.remaining(c) for c in self.categories)

    @property
    def exit_code(self) -> ExitCode:
        if self.fix_outcome == "aborted":
            return ExitCode.REFUSED
        return ExitCode.FINDING if self.drift else ExitCode.OK

    def remaining(self, category: Category) -> int:
        """Still drifting: a fix settles only the fixable categories (a failed webhook stays failed)."""
        if not category.fixable:
            return category.count
        return max(0, category.count - len(set(category.references) & set(self.fixed)))


def reconcile(
    runtime: Runtime,
    *,
    window_from: datetime,
    window_to: datetime,
    source: str = "auto",
    resume: bool = False,
    fix: bool = False,
    options: ApplyOptions | None = None,
    confirm: Callable[[Plan], bool] | None = None,
    progress: Progress | None = None,
    show_sql: bool = False,
    max_references: int = MAX_REFERENCES,
) -> ReconcileResult:
    started = time.monotonic()
    settings = runtime.settings
    engine = runtime.engine()
    ensure_tables(engine)
    stage = Stage(
        engine,
        lock_timeout_ms=settings.proaudit_lock_timeout_ms,
        statement_timeout_ms=settings.proaudit_statement_timeout_ms,
    )
    client = runtime.paystack()
    run = stage.unfinished(window_from, window_to) if resume else None
    if run is not None:
        if source != "auto" and source != run.source:
            raise UsageError(
                f"the interrupted run of this window pages the {run.source} source, not {source}",
                hint=f"resume it with --source {run.source} (or auto), or run again without --resume",
            )
        choice = SourceChoice(run.source, f"resumed run {run.id[:8]} after {run.pages:,} page(s)", None, None)
        window_from, window_to = run.window_from, run.window_to  # the window it started with
    else:
        total = estimate(client, window_from, window_to)
        choice = choose(source, total, max_pages=settings.proaudit_reconcile_max_pages, page_seconds=SECONDS_PER_PAGE)
        run = stage.start(window_from, window_to, choice.source)
    expected = choice.expected_rows

    if run.phase == "transactions":
        make = api_pages if run.source == "api" else export_pages
        held: list[StagedRow] = []
        held_pages = 0
        for rows, cursor in prefetched(make(client, run.id, window_from, window_to, run.cursor)):
            held.extend(rows)
            held_pages += 1
            if progress:
                progress(run.pages + held_pages, run.rows + len(held), expected)
            if cursor is not None and held_pages < COMMIT_PAGES:
                continue
            phase = "transactions" if cursor else "refunds"
            run = stage.write_page(run, held, cursor=cursor, phase=phase, pages=held_pages)
            held, held_pages = [], 0
            crash_point(f"reconcile:page:{run.pages}")
    if run.phase == "refunds":
        for rows, cursor in refund_pages(client, run.id, window_from, utcnow(), run.cursor):
            run = stage.write_page(run, rows, cursor=cursor, phase="refunds" if cursor else "compare")
    run = stage.set_phase(run, "compare", state="staged")  # and fresh planner statistics

    now = utcnow()
    from proaudit_ops.db.engine import read_only

    with read_only(engine) as conn:
        found = compute(conn, run.id, window_from, window_to, now, max_references)
    _confirm_ghosts(runtime, found["ghost"])

    outcome: FixOutcome | None = None
    if fix and any(found[name].count for name in ("stuck", "not_paid", "paid_not_entitled")):
        assert options is not None and confirm is not None
        outcome = plan_fix(runtime.guard(), run.id, now, options, confirm, show_sql=show_sql)
    elif fix:
        outcome = FixOutcome(outcome="nothing")
    stage.finish(run)
    return ReconcileResult(
        window_from=window_from,
        window_to=window_to,
        source=choice.source,
        source_reason=choice.reason,
        run_id=run.id,
        resumed=resume and choice.reason.startswith("resumed"),
        pages=run.pages,
        rows=run.rows,
        duration_s=round(time.monotonic() - started, 3),
        categories=list(found.values()),
        fix_outcome=outcome.outcome if outcome else None,
        fixed=outcome.fixed if outcome else [],
        fix_skipped=outcome.skipped if outcome else [],
        finished_at=utcnow(),
        _guard=outcome.guard if outcome else None,
        _sql=outcome.sql if outcome else None,
    )


def _confirm_ghosts(runtime: Runtime, ghost: Category) -> None:
    """A payment near the window's edge may be at Paystack just outside it: verify each candidate
    (a few at most) and keep only those Paystack does not know."""
    if ghost.count == 0 or ghost.truncated or ghost.count > GHOST_VERIFY_LIMIT:
        return
    client = runtime.paystack()
    pairs = zip(ghost.references, ghost.stakes, strict=True)
    kept = [(ref, stake) for ref, stake in pairs if _unknown(client, ref)]
    ghost.count = 0
    ghost.amounts = {}
    ghost.references = []
    ghost.stakes = []
    for ref, (amount, currency) in kept:
        ghost.add(ref, amount, currency, MAX_REFERENCES)


def _unknown(client: object, reference: str) -> bool:
    from proaudit_ops.paystack import PaystackClient

    assert isinstance(client, PaystackClient)
    try:
        client.verify_transaction(reference)
    except PaystackNotFound:
        return True
    return False


def run_summary(result: ReconcileResult) -> str:
    """The one line cron mails: window, source, and what drifted."""
    drifted = [f"{c.name} {result.remaining(c)}" for c in result.categories if result.remaining(c)]
    what = ", ".join(drifted) if drifted else "no drift"
    return (
        f"reconcile {result.window_from:%Y-%m-%dT%H:%M}Z..{result.window_to:%Y-%m-%dT%H:%M}Z "
        f"({result.rows:,} rows, source {result.source}): {what}"
    )


__all__ = ["Progress", "ReconcileResult", "RunState", "reconcile", "run_summary"]
