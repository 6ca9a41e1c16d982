"""The one error funnel: every command runs its core function through `run()`.

`run()` loads the settings, opens the runtime (announcing the sandbox on stderr), calls the
command's single core function, renders the result (human or the --json envelope), and turns
every error into one stderr line plus the documented exit code. Tracebacks only with --debug,
and even then with secrets masked.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from proaudit_ops.cli.output import error_entry, print_envelope
from proaudit_ops.errors import ExitCode, ProauditError
from proaudit_ops.redact import redact

if TYPE_CHECKING:
    from proaudit_ops.config import Settings
    from proaudit_ops.runtime import Runtime

R = TypeVar("R")


@dataclass
class GlobalOptions:
    json: bool = False
    debug: bool = False
    config: str | None = None
    profile: str | None = None
    incident: str | None = None
    argv: list[str] = field(default_factory=lambda: list(sys.argv))
    secrets: list[str] = field(default_factory=list)


def global_options(ctx: typer.Context) -> GlobalOptions:
    root = ctx.find_root()
    if not isinstance(root.obj, GlobalOptions):
        root.obj = GlobalOptions()
    return root.obj


def command_name(ctx: typer.Context) -> str:
    return " ".join(ctx.command_path.split()[1:]) or "proaudit"


def stderr(message: str) -> None:
    typer.echo(message, err=True)


def quiet_broken_pipe() -> None:
    """The reader went away (`| head -1`): send the rest of stdout nowhere, quietly.

    The Python docs' recipe (signal.html, "Note on SIGPIPE"): point stdout at devnull so the final
    flush at exit cannot raise again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (an in-process test runner)
        pass


def is_interactive() -> bool:
    """Someone can be asked: answers come from stdin and the question goes to stderr, both a terminal.

    stdout does not matter (`--fix | tee log` still prompts, as terraform does): it carries data only.
    """
    return sys.stdin.isatty() and sys.stderr.isatty()


def refuse_idle_flags(ctx: typer.Context, needs: str, flags: dict[str, bool]) -> None:
    """Flags that mean something only with `needs` are a usage error without it (exit 2).

    Ignoring them would let an operator who typed `--dry-run` without `--fix` believe a fix was looked at.
    """
    given = [name for name, on in flags.items() if on]
    if not given:
        return
    verb = "does" if len(given) == 1 else "do"
    _fail(
        global_options(ctx),
        command_name(ctx),
        ExitCode.USAGE,
        "usage",
        f"{', '.join(given)} {verb} nothing without {needs}: nothing was done",
        f"add {needs}, or leave {'it' if len(given) == 1 else 'them'} out",
        None,
    )


def load(opts: GlobalOptions, overrides: dict[str, Any] | None = None) -> Settings:
    from proaudit_ops.config import load_settings

    settings = load_settings(opts.config, opts.profile, overrides)
    opts.secrets = settings.secret_values()
    return settings


def run(
    ctx: typer.Context,
    call: Callable[[Runtime], R],
    render: Callable[[R], None],
    *,
    exit_code: Callable[[R], int] = lambda _result: ExitCode.OK,
    overrides: dict[str, Any] | None = None,
) -> None:
    """Open the runtime, call the core, render the result, exit with its code."""

    def body() -> tuple[R, int]:
        from proaudit_ops.runtime import Runtime

        opts = global_options(ctx)
        settings = load(opts, overrides)
        with Runtime(settings, argv=opts.argv, incident=opts.incident) as runtime:
            if runtime.is_sandbox:
                stderr(
                    "proaudit: sandbox mode (simulated Paystack, demo data in "
                    f"{settings.sandbox_db_path()}; no real money)"
                )
            try:
                result = call(runtime)
            except ProauditError as exc:
                _drill_step(runtime, ctx, exc.exit_code)
                raise
            code = int(exit_code(result))
            _drill_step(runtime, ctx, code)
            return result, code

    run_plain(ctx, body, render)


def _drill_step(runtime: Runtime, ctx: typer.Context, code: int) -> None:
    """During a sandbox drill, each command's name, options and exit code go to the audit log (drill score)."""
    if runtime.is_sandbox:
        from proaudit_ops.core.drills.session import note_step

        note_step(runtime, command_name(ctx), dict(ctx.params), code)


def run_plain(ctx: typer.Context, body: Callable[[], tuple[R, int]], render: Callable[[R], None]) -> None:
    """The funnel without a runtime (offline commands such as `webhooks sign`)."""
    opts = global_options(ctx)
    name = command_name(ctx)
    try:
        result, code = body()
    except ProauditError as exc:
        _fail(opts, name, exc.exit_code, exc.code, exc.message, exc.hint, exc)
    except KeyboardInterrupt:
        _fail(
            opts,
            name,
            ExitCode.INTERRUPTED,
            "interrupted",
            "interrupted: nothing more was done",
            None,
            None,
        )
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        message = f"internal error: {type(exc).__name__}: {exc}"
        _fail(
            opts,
            name,
            ExitCode.INTERNAL,
            "internal",
            message,
            "rerun with --debug and report the traceback",
            exc,
        )
    try:
        if opts.json:
            from proaudit_ops.jsonable import to_jsonable

            print_envelope(name, code, to_jsonable(result), [])
        else:
            render(result)
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_broken_pipe()  # the command's own exit code stands: a finding is a finding, read or not
    raise typer.Exit(code)


def _fail(
    opts: GlobalOptions,
    name: str,
    code: int,
    kind: str,
    message: str,
    hint: str | None,
    exc: BaseException | None,
) -> None:
    message = redact(message, opts.secrets)
    hint = redact(hint, opts.secrets) if hint else None
    if opts.debug and exc is not None:
        text = "".join(traceback.format_exception(exc))
        sys.stderr.write(redact(text, opts.secrets))
    line = f"error: {message}" + (f" (next: {hint})" if hint else "")
    stderr(line)
    if opts.json:
        try:
            print_envelope(name, code, None, [error_entry(kind, message, hint)])
        except BrokenPipeError:
            quiet_broken_pipe()
    raise typer.Exit(code)
