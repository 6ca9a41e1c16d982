"""The command tree's table of contents: each group's module and one-line help.

The root lists these without importing them; a group's module loads only when it is invoked,
so `proaudit --help` stays close to the cost of importing typer.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup


@dataclass(frozen=True)
class Group:
    module: str
    attr: str
    help: str


GROUPS: dict[str, Group] = {
    "payments": Group("proaudit_ops.cli.payments", "app", "Diagnose and fix payments (runbook: Payment Failures)."),
    "webhooks": Group(
        "proaudit_ops.cli.webhooks", "app", "Diagnose, test, replay and recover Paystack webhooks (Webhook Failures)."
    ),
    "subscriptions": Group(
        "proaudit_ops.cli.subscriptions", "app", "Show and change subscriptions (runbook: Subscription Issues)."
    ),
    "recovery": Group(
        "proaudit_ops.cli.recovery", "app", "Health, maintenance mode and database failover (Recovery Procedures)."
    ),
    "refunds": Group(
        "proaudit_ops.cli.refunds", "app", "Check and issue refunds exactly once (runbook: Refund Processing)."
    ),
    "dunning": Group(
        "proaudit_ops.cli.dunning", "app", "Retry failed renewals exactly once (runbook: Dunning/Collection Issues)."
    ),
    "approve": Group("proaudit_ops.cli.approve", "app", "Approve another operator's saved plan (two-person rule)."),
    "audit": Group("proaudit_ops.cli.audit", "app", "The hash-chained audit log: list, show, verify, ship."),
    "apply": Group("proaudit_ops.cli.audit", "apply_app", "Apply a saved plan exactly as reviewed (refused if stale)."),
    "reconcile": Group(
        "proaudit_ops.cli.reconcile",
        "app",
        "Compare Paystack's transactions and refunds with the payments table and the webhook inbox (cron).",
    ),
    "config": Group("proaudit_ops.cli.config_cmd", "app", "Show and check the configuration."),
    "monitor": Group(
        "proaudit_ops.cli.monitor", "app", "The runbook's key metrics and alert rules (Monitoring & Alerts)."
    ),
    "sandbox": Group("proaudit_ops.cli.sandbox", "app", "The embedded sandbox: demo tenants and a simulated Paystack."),
    "incident": Group(
        "proaudit_ops.cli.incident", "app", "Open, note, page, close and report incidents (post-incident review)."
    ),
    "logs": Group(
        "proaudit_ops.cli.logs", "app", "Search the app log, its rotations and the journal (runbook grep steps)."
    ),
    "drill": Group("proaudit_ops.cli.drill", "app", "Practise incidents on the sandbox: list, run, score."),
    "completion": Group(
        "proaudit_ops.cli.completion", "app", "Print the completion script for SHELL: bash, zsh or fish."
    ),
    "help": Group("proaudit_ops.cli.help_topics", "app", "Help topics: exit-codes, configuration, mutation-protocol."),
}


def group_app(name: str, *, no_args_is_help: bool = True) -> typer.Typer:
    """The Typer app of one group, configured like the root (plain help, no completion)."""
    return typer.Typer(
        help=GROUPS[name].help,
        no_args_is_help=no_args_is_help,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=False,
    )


# The root's options (app.py). Lifted to the front when typed after the subcommand, so
# `proaudit payments verify X --json` means `proaudit --json payments verify X`.
GLOBAL_FLAGS = frozenset({"--json", "--debug"})
GLOBAL_VALUES = frozenset({"--config", "--profile", "--incident"})


def _own_options(command: Any) -> dict[str, bool]:
    """A command's option names -> whether the option takes a value."""
    own: dict[str, bool] = {}
    for param in getattr(command, "params", []):
        if getattr(param, "param_type_name", None) != "option":
            continue
        takes_value = not (getattr(param, "is_flag", False) or getattr(param, "count", False))
        for name in (*param.opts, *param.secondary_opts):
            own[name] = takes_value
    return own


def lift_global_options(root: Any, argv: list[str]) -> list[str]:
    """Move global options found after the subcommand (and before a `--`) to the front.

    An option the subcommand declares itself stays where it is (it is the subcommand's), and a
    value of one of its options is never mistaken for a global option. Unknown commands are left
    for the parser to report.
    """
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "--":  # the root's own options
        i += 2 if argv[i] in GLOBAL_VALUES else 1
    if i >= len(argv) or argv[i] == "--":
        return argv
    try:
        command = root.get_command(None, argv[i])
        i += 1
        while command is not None and hasattr(command, "commands") and i < len(argv) and not argv[i].startswith("-"):
            command = command.get_command(None, argv[i])
            i += 1
    except Exception:  # a group that fails to import reports itself when it is invoked
        return argv
    if command is None:
        return argv
    own = _own_options(command)
    lifted: list[str] = []
    kept = argv[:i]
    while i < len(argv):
        arg = argv[i]
        name = arg.split("=", 1)[0]
        if arg == "--":
            kept += argv[i:]
            break
        if name in own:
            takes = own[name] and "=" not in arg
            kept += argv[i : i + (2 if takes else 1)]
            i += 2 if takes else 1
        elif name in GLOBAL_FLAGS and arg == name:
            lifted.append(arg)
            i += 1
        elif name in GLOBAL_VALUES:
            takes = "=" not in arg
            lifted += argv[i : i + (2 if takes else 1)]
            i += 2 if takes else 1
        else:
            kept.append(arg)
            i += 1
    return lifted + kept


class LazyGroup(TyperGroup):
    """A root group whose subcommands are imported on first use."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(GROUPS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        group = GROUPS.get(cmd_name)
        if group is None:
            return None
        sub = getattr(importlib.import_module(group.module), group.attr)
        command = typer.main.get_command(sub)
        command.name = cmd_name
        return command

    def main(  # type: ignore[override]
        self, args: Any = None, prog_name: str | None = None, *, standalone_mode: bool = True, **extra: Any
    ) -> Any:
        """A usage error caught by the parser is one `error:` line like every other error (and,
        with --json, the one JSON envelope); help and a missing subcommand still print help.
        Global options given after the subcommand are lifted to the front first."""
        argv = lift_global_options(self, list(sys.argv[1:] if args is None else args))
        if not standalone_mode:
            return super().main(argv, prog_name, standalone_mode=standalone_mode, **extra)
        json_mode = "--json" in argv
        try:
            code = super().main(argv, prog_name, standalone_mode=False, **extra)
        except typer.Abort:
            if json_mode:
                sys.exit(130)
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        except typer.TyperException as exc:
            from typer._click.exceptions import NoArgsIsHelpError, UsageError

            if isinstance(exc, NoArgsIsHelpError) or not isinstance(exc, UsageError):
                exc.show()  # type: ignore[attr-defined]
                sys.exit(int(getattr(exc, "exit_code", 2)))
            name, message, hint = usage_error_parts(exc)
            typer.echo(f"error: {message} (next: {hint})", err=True)
            if json_mode:
                from proaudit_ops.cli.output import error_entry, print_envelope

                print_envelope(name or "proaudit", exc.exit_code, None, [error_entry("usage", message, hint)])
            sys.exit(exc.exit_code)
        sys.exit(code if isinstance(code, int) else 0)

    # Help and usage text piped into `head`: the reader left, nothing failed (exit 0, no traceback).
    # A command's own output is handled by the funnel (runner.run_plain), which keeps its exit code.
    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            from proaudit_ops.cli.runner import quiet_broken_pipe

            quiet_broken_pipe()
            raise typer.Exit(0) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            from proaudit_ops.cli.runner import quiet_broken_pipe

            quiet_broken_pipe()
            raise typer.Exit(0) from None

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, group.help) for name, group in GROUPS.items()])


def usage_error_parts(exc: Any) -> tuple[str, str, str]:
    """The command's name, the parser's message and a next step: the option's range when it has
    one (typer's own message names only the bound that was crossed), else the command's help."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "proaudit"
    name = " ".join(path.split()[1:])
    message = " ".join(exc.format_message().split())  # one line, whatever the parser wrote
    param = getattr(exc, "param", None)
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    flag = getattr(param, "opts", [None])[0] if param is not None else None
    if flag and (low is not None or high is not None):
        allowed = f"{low} to {high}" if low is not None and high is not None else f"at least {low}"
        if low is None:
            allowed = f"at most {high}"
        return name, message, f"{flag} takes {allowed}; see '{path} -h'"
    return name, message, f"see '{path} -h'"
