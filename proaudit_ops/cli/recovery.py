"""`proaudit recovery ...`: health, maintenance on/off/status, failover (runbook: Recovery Procedures)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from proaudit_ops.cli.groups import group_app
from proaudit_ops.cli.mutation import DryRun, Live, Yes, apply_options
from proaudit_ops.cli.runner import run

if TYPE_CHECKING:
    from proaudit_ops.core.recovery.failover import FailoverResult
    from proaudit_ops.core.recovery.maintenance import MaintenanceState
    from proaudit_ops.runtime import Runtime

app = group_app("recovery")
maintenance_app = typer.Typer(
    help="Maintenance mode: the app's Redis keys maintenance_mode / maintenance_message, always with a TTL.\n\n"
    "\b\n"
    "Examples:\n"
    "  proaudit recovery maintenance status\n"
    '  proaudit recovery maintenance on --message "Payments are paused for a few minutes" --ttl 30m\n'
    "  proaudit recovery maintenance off",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(maintenance_app, name="maintenance")


@app.command("health")
def health(
    ctx: typer.Context,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0.1, max=60, help="Seconds each check may take (default 5)."),
    ] = None,
) -> None:
    """Check the app's /health, the database (latency, replication lag), Redis, Paystack and Celery.

    The checks run at the same time, each bounded by --timeout. Exit 0 when all pass (or are not
    configured), 1 when any fails.

    \b
    Examples:
      proaudit recovery health
      proaudit recovery health --json --timeout 3
    """
    from proaudit_ops.core.recovery.health import health as check_health

    run(ctx, lambda rt: check_health(rt, timeout_s=timeout), _render_health, exit_code=lambda r: r.exit_code)


@maintenance_app.command("on")
def maintenance_on(
    ctx: typer.Context,
    message: Annotated[str, typer.Option("--message", "-m", help="What the app shows its users (one line).")],
    ttl: Annotated[str, typer.Option("--ttl", help="Clears by itself after this long: 1m to 24h.")] = "2h",
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
) -> None:
    """Turn maintenance mode on, for --ttl at most (audited; `off` puts back what was there).

    \b
    Examples:
      proaudit recovery maintenance on --message "Billing maintenance in progress" --ttl 1h --dry-run
      proaudit recovery maintenance on --message "Billing maintenance in progress" --ttl 1h --yes
    """
    from proaudit_ops.cli.confirm import confirm_proposal
    from proaudit_ops.cli.options import parse_window
    from proaudit_ops.core.recovery.maintenance import MAX_TTL, MIN_TTL, turn_on

    duration = parse_window(ttl, "--ttl", minimum=MIN_TTL, maximum=MAX_TTL)

    def call(rt: Runtime) -> MaintenanceState:
        return turn_on(
            rt,
            message,
            duration,
            apply_options(rt, dry_run=dry_run, yes=yes, live=live, plan_out=None),
            confirm_proposal,
        )

    run(ctx, call, _render_maintenance, exit_code=lambda r: r.exit_code)


@maintenance_app.command("off")
def maintenance_off(ctx: typer.Context, dry_run: DryRun = False, yes: Yes = False, live: Live = False) -> None:
    """Turn maintenance mode off: restore what the keys held before `on` (or delete them).

    \b
    Examples:
      proaudit recovery maintenance off --dry-run
      proaudit recovery maintenance off --yes
    """
    from proaudit_ops.cli.confirm import confirm_proposal
    from proaudit_ops.core.recovery.maintenance import turn_off

    def call(rt: Runtime) -> MaintenanceState:
        return turn_off(rt, apply_options(rt, dry_run=dry_run, yes=yes, live=live, plan_out=None), confirm_proposal)

    run(ctx, call, _render_maintenance, exit_code=lambda r: r.exit_code)


@maintenance_app.command("status")
def maintenance_status(ctx: typer.Context) -> None:
    """Show the maintenance keys, their values and how long until they clear.

    \b
    Examples:
      proaudit recovery maintenance status
      proaudit recovery maintenance status --json
    """
    from proaudit_ops.core.recovery.maintenance import status

    run(ctx, status, _render_maintenance)


@app.command("failover")
def failover(
    ctx: typer.Context,
    replica: Annotated[
        str, typer.Option("--replica", metavar="URL", help="The streaming replica to promote (postgresql://...).")
    ],
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", metavar="FILE", help="Set DATABASE_URL in this env file (mode 0600, atomic)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Promote even above the lag limit or while the primary still answers.")
    ] = False,
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
) -> None:
    """Promote a streaming replica when the primary is down (pg_promote), verify it takes writes.

    Checks first that the replica is in recovery, its replay lag is within
    PROAUDIT_REPLICA_MAX_LAG_SECONDS and the old primary no longer answers. Prints the new
    DATABASE_URL (password masked; the full value goes to --env-file) and the restart commands.

    \b
    Examples:
      proaudit recovery failover --replica postgresql://billing@replica:5432/billing --dry-run
      proaudit recovery failover --replica postgresql://billing@replica:5432/billing --env-file /etc/billing.env
    """
    from proaudit_ops.cli.confirm import confirm_proposal
    from proaudit_ops.core.recovery.failover import failover as promote

    def call(rt: Runtime) -> FailoverResult:
        options = apply_options(rt, dry_run=dry_run, yes=yes, live=live, plan_out=None)
        return promote(rt, replica, options, confirm_proposal, env_file=env_file, force=force)

    run(ctx, call, _render_failover, exit_code=lambda r: r.exit_code)


# -- rendering --------------------------------------------------------------------------------


def _render_health(result: object) -> None:
    from rich.text import Text

    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, OPTIONAL, Col
    from proaudit_ops.core.recovery.health import FAIL, OK, HealthResult

    assert isinstance(result, HealthResult)
    out = render.console()
    table = render.Grid(
        [
            Col("check", ESSENTIAL),
            Col("status", ESSENTIAL),
            Col("latency", OPTIONAL, "right"),
            Col("detail", ESSENTIAL),
        ],
        title="recovery health",
    )
    style = {OK: "green", FAIL: "bold red"}
    for check in result.checks:
        latency = "—" if check.latency_ms is None else f"{check.latency_ms} ms"
        table.add_row(check.name, Text(check.status, style=style.get(check.status, "dim")), latency, check.detail)
    out.print(table)
    if result.failed:
        out.print(f"[bold red]fail[/]: {', '.join(result.failed)}")
        out.print("next: runbook/recovery.md (failover, maintenance mode)", markup=False)
    else:
        out.print("[green]ok[/]: every configured check passed")


def _ttl(seconds: float | None) -> str:
    if seconds is None:
        return "no expiry"
    whole = int(seconds)
    return (
        f"{whole // 3600}h{whole % 3600 // 60:02d}m{whole % 60:02d}s"
        if whole >= 3600
        else f"{whole // 60}m{whole % 60:02d}s"
    )


def _saved_view(raw: str) -> str:
    """The saved previous values as `off` will put them back, not as JSON."""
    import json

    try:
        saved = json.loads(raw)
        parts = []
        for key in ("maintenance_mode", "maintenance_message"):
            value = saved.get(key, {}).get("value")
            parts.append(f"{key}={json.dumps(value) if value is not None else '(not set)'}")
    except (ValueError, AttributeError):
        return raw
    return "off restores " + ", ".join(parts)


def _render_maintenance(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, Col
    from proaudit_ops.core.recovery.maintenance import PREVIOUS_KEY, MaintenanceState

    assert isinstance(result, MaintenanceState)
    out = render.console()
    if result.outcome in ("planned", "aborted"):
        note = "dry run" if result.outcome == "planned" else "not confirmed"
        out.print(f"[yellow]{result.outcome}[/]: maintenance {result.action} was not applied ({note})")
        if result.plan:
            out.print(f"it would {result.plan}", markup=False)
        return
    if result.outcome == "nothing":
        out.print("maintenance is already off: no maintenance keys to remove", markup=False)
        return
    table = render.Grid(
        [Col("key", ESSENTIAL), Col("value", ESSENTIAL), Col("clears in", ESSENTIAL)],
        title=f"maintenance keys in {result.store}",
    )
    for key in result.keys:
        present = key.value is not None
        value = _saved_view(key.value) if key.key == PREVIOUS_KEY and key.value else key.value
        table.add_row(key.key, value or "(not set)", _ttl(key.ttl_s) if present else "—")
    out.print(table)
    state = "[bold yellow]on[/]" if result.on else "[green]off[/]"
    seq = f" (audit #{result.audit_seq})" if result.audit_seq is not None else ""
    if result.outcome == "applied":
        out.print(f"[green]applied[/]: maintenance {result.action}; maintenance is now {state}{seq}")
    else:
        out.print(f"maintenance is {state}")


def _render_failover(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.core.recovery.failover import FailoverResult

    assert isinstance(result, FailoverResult)
    out = render.console()
    for line in result.checks:
        out.print(f"- {line}", markup=False)
    if result.outcome in ("planned", "aborted"):
        note = "dry run" if result.outcome == "planned" else "not confirmed"
        out.print(f"[yellow]{result.outcome}[/]: {result.replica} was not promoted ({note})")
        return
    seq = f" (audit #{result.audit_seq})" if result.audit_seq is not None else ""
    out.print(f"[green]promoted[/]: {result.replica} is the primary now, in {result.seconds:g} s{seq}")
    if result.env_file:
        out.print(f"DATABASE_URL written to {result.env_file} (mode 0600)", markup=False)
    out.print("next: point the services at it and restart them:", markup=False)
    out.print(f"  export DATABASE_URL={result.database_url}", markup=False)
    for command in result.restart_commands:
        out.print(f"  {command}", markup=False)
