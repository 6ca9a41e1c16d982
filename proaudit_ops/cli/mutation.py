"""The options every mutating command takes, and how they become ApplyOptions. One place."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from proaudit_ops.cli.runner import is_interactive

if TYPE_CHECKING:
    from proaudit_ops.protocols.guard import ApplyOptions, GuardResult
    from proaudit_ops.runtime import Runtime

DryRun = Annotated[bool, typer.Option("--dry-run", help="Show the plan, change nothing (audited as planned).")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking (for scripts).")]
Live = Annotated[bool, typer.Option("--live", help="Required when a live key (sk_live_) is configured.")]
ShowSql = Annotated[bool, typer.Option("--show-sql", help="Also print the exact UPDATE statements.")]
PlanOut = Annotated[
    Path | None,
    typer.Option(
        "--plan-out",
        metavar="FILE",
        help="Save the plan; apply it later with `proaudit apply FILE`.",
    ),
]


def apply_options(runtime: Runtime, *, dry_run: bool, yes: bool, live: bool, plan_out: Path | None) -> ApplyOptions:
    """The guard's options from the flags and the settings; a bad --plan-out fails here, before planning."""
    from proaudit_ops.files import check_output_path
    from proaudit_ops.protocols.guard import ApplyOptions
    from proaudit_ops.protocols.live_guard import mode_conflict

    settings = runtime.settings
    return ApplyOptions(
        dry_run=dry_run,
        assume_yes=yes,
        interactive=is_interactive(),
        live_key=settings.is_live_key,
        live_flag=live,
        plan_out=check_output_path(plan_out, "--plan-out") if plan_out is not None else None,
        mode_conflict=mode_conflict(settings.secret_key_value(), settings.paystack_sandbox_mode),
    )


def render_guard_result(result: GuardResult | None, *, show_sql: bool, sql: list[str] | None = None) -> None:
    """What happened to a plan: the diff (unless the prompt showed it here), the rows after, the outcome."""
    from proaudit_ops.cli import render
    from proaudit_ops.cli.plan_view import after_table, render_plan

    out = render.console()
    if result is None:
        return
    # A prompt shows the plan on stdout only when stdout is the terminal; a piped log still gets it.
    shown = result.prompted and out.is_terminal
    if result.plan is not None and result.outcome in ("planned", "applied") and not shown:
        render_plan(result.plan, out)
    if show_sql and sql:
        for statement in sql:
            out.print(statement, markup=False)
    if result.outcome == "applied":
        if result.plan is not None and result.rows:
            out.print(after_table(result.applied_changes, result.rows))
        seq = f" (audit #{result.audit_seq})" if result.audit_seq is not None else ""
        out.print(f"[green]applied[/]: {len(result.rows)} row(s) changed{seq}")
    elif result.outcome == "planned":
        where = f"; saved to {result.plan_file}" if result.plan_file else "; nothing was changed (dry run)"
        out.print(f"[yellow]planned[/]{where}")
    elif result.outcome == "aborted":
        out.print("[yellow]aborted[/]: nothing was changed")
    elif result.outcome == "nothing":
        out.print("nothing to change: the rows no longer need it")
