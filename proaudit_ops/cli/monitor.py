"""`proaudit monitor ...`: check (the runbook's key metrics against its thresholds), rules (its alerts as a file)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from proaudit_ops.cli.groups import group_app
from proaudit_ops.cli.options import parse_window
from proaudit_ops.cli.runner import run, run_plain

if TYPE_CHECKING:
    from proaudit_ops.core.monitor.check import CheckResult
    from proaudit_ops.core.monitor.rules import RulesResult
    from proaudit_ops.runtime import Runtime

app = group_app("monitor")


@app.command("check")
def check(
    ctx: typer.Context,
    window: Annotated[
        str, typer.Option("--window", help="Window to measure over (dunning: proaudit_dunning_window).")
    ] = "5m",
    metrics: Annotated[
        str | None, typer.Option("--metrics", help="Also write the figures in Prometheus text format to FILE.")
    ] = None,
) -> None:
    """The runbook's key metrics against its warning and critical thresholds.

    Exit 1 when a metric is critical, 0 otherwise (a warning is shown, exit 0); 3 when Prometheus is
    configured but did not answer and nothing is critical.

    \b
    Examples:
      proaudit monitor check
      proaudit monitor check --window 1h --json
      proaudit monitor check --metrics /var/lib/node_exporter/textfile/proaudit_monitor.prom
    """
    span = parse_window(window, "--window")

    def call(rt: Runtime) -> CheckResult:
        from dataclasses import replace

        from proaudit_ops.core.monitor.check import monitor_check
        from proaudit_ops.files import check_output_path

        target = check_output_path(metrics, "--metrics") if metrics is not None else None  # before any query
        result = monitor_check(rt, span)
        if target is None:
            return result
        from proaudit_ops.core.monitor.export import write_metrics

        return replace(result, metrics_file=str(write_metrics(result, target)))

    run(ctx, call, _render_check, exit_code=lambda r: r.exit_code)


@app.command("rules")
def rules(
    ctx: typer.Context,
    out: Annotated[
        str | None, typer.Option("--out", help="Write the rule file here (atomically) instead of stdout.")
    ] = None,
) -> None:
    """The runbook's alert rules and proaudit's own, as a Prometheus rule file (check it with promtool).

    \b
    Examples:
      proaudit monitor rules > proaudit-rules.yml
      proaudit monitor rules --out /etc/prometheus/rules/proaudit.yml
    """
    from proaudit_ops.core.monitor.rules import monitor_rules

    def body() -> tuple[RulesResult, int]:
        return monitor_rules(out), 0

    run_plain(ctx, body, _render_rules)


# -- rendering --------------------------------------------------------------------------------

_STYLE = {
    "ok": "green",
    "warning": "yellow",
    "critical": "bold red",
    "unavailable": "bold red",
    "no_data": "dim",
    "pending": "dim",
    "skipped": "dim",
}


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "%":
        return f"{value:.2f}%"
    if unit == "ms":
        return f"{value:.0f} ms"
    return f"{value:.2f} s"


def _threshold(value: float, unit: str, bad_when: str) -> str:
    sign = "<" if bad_when == "below" else ">"
    shown = f"{value:g}%" if unit == "%" else f"{value:g} {unit}"
    return f"{sign} {shown}"


def _render_check(result: object) -> None:
    from rich.text import Text

    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, OPTIONAL, Col
    from proaudit_ops.core.monitor.check import CheckResult

    assert isinstance(result, CheckResult)
    out = render.console()
    table = render.Grid(
        [
            Col("metric", ESSENTIAL),
            Col("value", ESSENTIAL, "right"),
            Col("level", ESSENTIAL),
            Col("warning", OPTIONAL, "right"),
            Col("critical", OPTIONAL, "right"),
            Col("window", OPTIONAL, "right"),
            Col("detail", ESSENTIAL),
        ],
        title=f"key metrics at {render.when(result.checked_at)} (window {result.window})",
    )
    for m in result.metrics:
        table.add_row(
            m.label,
            _figure(m.value, m.unit),
            Text(m.level, style=_STYLE.get(m.level, "bold red")),
            _threshold(m.warning, m.unit, m.bad_when),
            _threshold(m.critical, m.unit, m.bad_when),
            m.window,
            m.detail or "",
        )
    out.print(table)
    style = _STYLE.get(result.level, "bold red")
    out.print(Text.assemble("overall: ", (result.level, style), f" (exit {int(result.exit_code)})"))
    if result.metrics_file:
        out.print(f"metrics written to {result.metrics_file}", markup=False)
    if any(m.name == "payment_success_rate" and m.level == "critical" for m in result.metrics):
        out.print("next: proaudit payments status --since 1h; proaudit webhooks gaps --since 24h", markup=False)


def _render_rules(result: object) -> None:
    import sys

    from proaudit_ops.core.monitor.rules import RulesResult

    assert isinstance(result, RulesResult)
    if result.path is None:
        sys.stdout.write(result.text)  # the file itself, byte for byte: no wrapping, no markup
        return
    from proaudit_ops.cli import render

    render.console().print(
        f"{len(result.alerts)} alert rules written to {result.path}: {', '.join(result.alerts)}", markup=False
    )
