"""`proaudit config show|check`."""

from __future__ import annotations

import typer

from proaudit_ops.cli.groups import group_app
from proaudit_ops.cli.runner import run

app = group_app("config")


@app.command("show")
def show(ctx: typer.Context) -> None:
    """Every setting, where it came from, secrets masked.

    \b
    Examples:
      proaudit config show
      proaudit --profile production config show
    """
    from proaudit_ops.core.config_report import show_config

    run(ctx, lambda rt: show_config(rt.settings), _render_show)


@app.command("check")
def check(ctx: typer.Context) -> None:
    """Find the runbook's classic faults: secrets, key mode, database, schema drift, Paystack.

    \b
    Examples:
      proaudit config check
      proaudit --profile production --json config check
    """
    from proaudit_ops.core.config_report import check_config

    run(ctx, check_config, _render_check, exit_code=lambda r: r.exit_code)


def _render_show(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, OPTIONAL, Col
    from proaudit_ops.core.config_report import ConfigShowResult

    assert isinstance(result, ConfigShowResult)
    out = render.console()
    out.print(f"mode: {result.mode}   profile: {result.profile or '—'}   file: {result.config_file or '—'}")
    table = render.Grid([Col("key", ESSENTIAL), Col("value", ESSENTIAL), Col("source", OPTIONAL)])
    for item in result.values:
        table.add_row(item.key, render.text(item.value), item.source)
    out.print(table)


def _render_check(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.core.config_report import ConfigCheckResult

    assert isinstance(result, ConfigCheckResult)
    out = render.console()
    out.print(f"mode: {result.mode}; checked: {', '.join(result.checks)}")
    if not result.findings:
        out.print("[green]ok[/]: no configuration fault found")
    for finding in result.findings:
        out.print(f"[bold red]{finding.check}[/]: {finding.message} (fix: {finding.hint})")
