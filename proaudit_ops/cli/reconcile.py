"""`proaudit reconcile`: Paystack vs the payments table vs the webhook inbox, for a day or a window."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from proaudit_ops.cli.groups import group_app
from proaudit_ops.cli.mutation import DryRun, Live, PlanOut, ShowSql, Yes, apply_options, render_guard_result
from proaudit_ops.cli.options import parse_window
from proaudit_ops.cli.runner import refuse_idle_flags, run

if TYPE_CHECKING:
    from proaudit_ops.core.reconcile.run import ReconcileResult
    from proaudit_ops.runtime import Runtime

app = group_app("reconcile", no_args_is_help=False)
SOURCES = ("auto", "api", "export")


def reconcile_command(
    ctx: typer.Context,
    date: Annotated[
        str | None, typer.Option("--date", metavar="YYYY-MM-DD", help="One UTC day (what cron runs for yesterday).")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="A window ending now, e.g. 24h or 30d.")] = None,
    fix: Annotated[
        bool, typer.Option("--fix", help="Fix stuck, not-paid and paid-not-entitled in one guarded plan.")
    ] = False,
    source: Annotated[
        str, typer.Option("--source", help="Paystack side: auto (export for very large days), api, export.")
    ] = "auto",
    resume: Annotated[bool, typer.Option("--resume", help="Continue this window's interrupted run.")] = False,
    metrics: Annotated[
        Path | None, typer.Option("--metrics", metavar="FILE", help="Write Prometheus text (node_exporter textfile).")
    ] = None,
    push: Annotated[
        str | None, typer.Option("--push", metavar="URL", help="Push the metrics to a Pushgateway.")
    ] = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
    show_sql: ShowSql = False,
    plan_out: PlanOut = None,
) -> None:
    """Compare Paystack's transactions and refunds with the payments table and the webhook inbox.

    Exit 0 clean, 1 drift, 3 a dependency down (4 refused with --fix).

    \b
    Examples:
      proaudit reconcile --since 24h
      proaudit reconcile --date 2026-11-30 --json --metrics /var/lib/node_exporter/reconcile.prom
      proaudit reconcile --since 30d --fix --yes
    """
    if not fix:
        flags = {"--dry-run": dry_run, "--yes": yes, "--live": live, "--show-sql": show_sql}
        refuse_idle_flags(ctx, "--fix", {**flags, "--plan-out": plan_out is not None})
    if source not in SOURCES:
        raise typer.BadParameter(f"{source!r} is not one of {', '.join(SOURCES)}", param_hint="--source")
    window_from, window_to = _window(date, since)

    def call(rt: Runtime) -> ReconcileResult:
        from proaudit_ops.cli.confirm import confirm
        from proaudit_ops.core.reconcile.publish import publish
        from proaudit_ops.core.reconcile.run import reconcile

        options = apply_options(rt, dry_run=dry_run, yes=yes, live=live, plan_out=plan_out) if fix else None
        with _progress() as progress:
            result = reconcile(
                rt,
                window_from=window_from,
                window_to=window_to,
                source=source,
                resume=resume,
                fix=fix,
                options=options,
                confirm=confirm,
                progress=progress,
                show_sql=show_sql,
            )
        publish(result, metrics_file=metrics, push_url=push)
        _summary_to_stderr(ctx, result)
        return result

    run(ctx, call, _render, exit_code=lambda r: r.exit_code)


app.command("reconcile")(reconcile_command)


def _window(date: str | None, since: str | None) -> tuple[datetime, datetime]:
    from datetime import UTC, timedelta

    from proaudit_ops.timeutil import utcnow

    if date is not None and since is not None:
        raise typer.BadParameter("give --date or --since, not both", param_hint="--date")
    if date is not None:
        try:
            day = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise typer.BadParameter(f"{date!r} is not a date (YYYY-MM-DD)", param_hint="--date") from None
        # Paystack's `to` is inclusive and its times have milliseconds: the day ends a millisecond early.
        return day, day + timedelta(days=1) - timedelta(milliseconds=1)
    now = utcnow()
    return now - parse_window(since or "24h", "--since"), now


def _summary_to_stderr(ctx: typer.Context, result: ReconcileResult) -> None:
    """With --json (cron), the one summary line on stderr: what a cron mail shows."""
    from proaudit_ops.cli.runner import global_options, stderr
    from proaudit_ops.core.reconcile.run import run_summary

    if global_options(ctx).json:
        stderr(run_summary(result))


@contextmanager
def _progress() -> Iterator[Callable[[int, int, int | None], None] | None]:
    """Pages, rows and the ETA on a terminal (stderr); nothing at all otherwise (cron)."""
    import sys

    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("staging Paystack's pages"),
        BarColumn(),
        TextColumn("{task.fields[pages]:,} pages, {task.completed:,.0f} rows"),
        TimeRemainingColumn(),
        transient=True,
        console=Console(stderr=True),
        redirect_stdout=False,
        redirect_stderr=False,
    )
    task = bar.add_task("reconcile", total=None, pages=0)

    def update(pages: int, rows: int, expected: int | None) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=rows, total=expected, pages=pages)

    try:
        yield update
    finally:
        bar.stop()


def _render(result: ReconcileResult) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, FOLD, OPTIONAL, Col
    from proaudit_ops.money import Money

    out = render.console()
    out.print(f"source: {result.source} ({result.source_reason})", markup=False)
    table = render.Grid(
        [
            Col("category", ESSENTIAL),
            Col("count", ESSENTIAL, "right"),
            Col("at stake", ESSENTIAL, "right"),
            Col("fix", OPTIONAL),
            Col("references", FOLD),
        ],
        title=f"reconcile {render.when(result.window_from)} .. {render.when(result.window_to)}, {result.rows:,} rows",
    )
    fixed = set(result.fixed)
    for category in result.categories:
        stake = " + ".join(Money(v, c).format() for c, v in sorted(category.amounts.items())) or "—"
        refs = [r + (" (fixed)" if r in fixed and category.fixable else "") for r in category.references]
        shown = ", ".join(refs) + (f", … {category.count - len(refs):,} more" if category.truncated else "")
        table.add_row(
            category.name,
            f"{category.count:,}",
            stake if category.count else "—",
            "--fix" if category.fixable else "—",
            shown or "—",
        )
    out.print(table)
    if result.fix_skipped:
        out.print(f"not fixed (a human decides): {', '.join(result.fix_skipped)}", markup=False)
    render_guard_result(result._guard, show_sql=bool(result._sql), sql=result._sql)
    left = result.drift
    style = render.STYLE_BY_HEALTH[left == 0]
    verdict = "no drift" if left == 0 else f"{left:,} reference(s) drifting"
    out.print(f"[{style}]{verdict}[/] in {result.duration_s:.1f}s")
    if left and result.fix_outcome is None and any(c.count for c in result.categories if c.fixable):
        out.print("next: proaudit reconcile --fix (same window) settles the fixable ones", markup=False)
