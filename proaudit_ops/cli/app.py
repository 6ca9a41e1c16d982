"""The root of the command tree: wires the groups and the global options. Nothing else.

Command modules import only typer at module level (heavy libraries load inside the commands),
so `proaudit --help` stays fast.
"""

from __future__ import annotations

import os
import sys

import typer

from proaudit_ops import __version__
from proaudit_ops.cli.groups import LazyGroup
from proaudit_ops.cli.runner import GlobalOptions

app = typer.Typer(
    name="proaudit",
    cls=LazyGroup,
    help="The billing incident runbook as commands: read-only diagnostics, audited fixes.\n\n"
    "With no configuration every command runs against the embedded sandbox.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"proaudit {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    json_output: bool = typer.Option(False, "--json", help="One JSON envelope on stdout."),
    debug: bool = typer.Option(False, "--debug", help="Tracebacks on errors (secrets masked)."),
    config: str | None = typer.Option(None, "--config", metavar="PATH", help="Config file (TOML)."),
    profile: str | None = typer.Option(
        None, "--profile", metavar="NAME", help="Named profile in the config file (or 'sandbox')."
    ),
    incident: str | None = typer.Option(
        None,
        "--incident",
        metavar="ID",
        envvar="PROAUDIT_INCIDENT",
        help="Tag audit records with an incident id.",
    ),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    ctx.obj = GlobalOptions(
        json=json_output,
        debug=debug,
        config=config,
        profile=profile,
        incident=incident,
        argv=list(sys.argv),
    )


def main() -> None:
    if "_PROAUDIT_COMPLETE" in os.environ:  # a shell asking for completions (`proaudit completion SHELL`)
        from typer._completion_classes import completion_init

        completion_init()
    try:
        app(prog_name="proaudit")
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
