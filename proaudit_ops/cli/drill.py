"""`proaudit drill ...`: list, run and score scripted incidents on a fresh sandbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from proaudit_ops.cli.groups import group_app
from proaudit_ops.cli.runner import run

if TYPE_CHECKING:
    from proaudit_ops.core.drills.ops import DrillList, RunResult, ScoreResult

app = group_app("drill")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """The drills there are, and the one running in this sandbox.

    \b
    Examples:
      proaudit drill list
    """
    from proaudit_ops.core.drills.ops import list_drills

    run(ctx, list_drills, _render_list)


@app.command("run")
def run_(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The drill (see `drill list`).")]) -> None:
    """Reset the sandbox, start the drill NAME and show its symptoms; then respond, then `drill score`.

    Refused (exit 4) while another proaudit process uses the sandbox, like `sandbox reset`.

    \b
    Examples:
      proaudit drill run webhook-outage
      proaudit drill run double-refund
      proaudit drill run db-failover
      proaudit drill run dunning-storm
    """
    from proaudit_ops.core.drills.ops import run_drill

    run(ctx, lambda rt: run_drill(rt, name), _render_run)


@app.command("score")
def score(ctx: typer.Context) -> None:
    """Score the session since `drill run` from the audit log (exit 1 when it missed full marks).

    \b
    Examples:
      proaudit drill score
      proaudit drill score --json
    """
    from proaudit_ops.core.drills.ops import score_drill

    run(ctx, score_drill, _render_score, exit_code=lambda r: r.exit_code)


def _render_list(result: DrillList) -> None:
    for drill in result.drills:
        mark = "*" if drill.name == result.active else " "
        typer.echo(f"{mark} {drill.name:<16} {drill.title}")
    if result.active:
        typer.echo(f"running: {result.active} (proaudit drill score)")


def _render_run(result: RunResult) -> None:
    typer.echo(f"drill {result.name} started {result.started_at:%H:%M:%S} UTC: {result.title}")
    typer.echo("")
    typer.echo("symptoms:")
    for line in result.symptoms:
        typer.echo(f"  {line}")
    typer.echo("")
    typer.echo(result.briefing)
    typer.echo("")
    typer.echo("when you are done: proaudit drill score")


def _render_score(result: ScoreResult) -> None:
    ttd = "not detected" if result.time_to_detect_s is None else f"{result.time_to_detect_s:.0f}s"
    typer.echo(f"drill {result.name}: {result.points}/{len(result.checks)}, time to detect {ttd}, {result.steps} steps")
    for check in result.checks:
        typer.echo(f"  {'pass' if check.passed else 'FAIL'}  {check.name}: {check.detail}")
    typer.echo("full marks" if result.full_marks else "not full marks: see the FAIL lines")
