"""`proaudit completion bash|zsh|fish`: print the shell completion script.

The script calls `proaudit` back with `_PROAUDIT_COMPLETE` set; the root (app.py) loads the
completion machinery only then, so `proaudit --help` does not pay for it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from proaudit_ops.cli.groups import group_app

app = group_app("completion", no_args_is_help=False)

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_PROAUDIT_COMPLETE"


@app.command()
def completion(
    ctx: typer.Context,
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.", metavar="SHELL")],
) -> None:
    """Print the completion script for SHELL (install it once, then Tab completes commands and options).

    \b
    Examples:
      proaudit completion bash
      source <(proaudit completion bash)       (this shell only)
    \b
    Install:
      bash:  proaudit completion bash > ~/.local/share/bash-completion/completions/proaudit
      zsh:   proaudit completion zsh > "${fpath[1]}/_proaudit"   (then: autoload -U compinit && compinit)
      fish:  proaudit completion fish > ~/.config/fish/completions/proaudit.fish
    """
    from proaudit_ops.cli.runner import run_plain

    def body() -> tuple[str, int]:
        from proaudit_ops.errors import UsageError

        name = shell.strip().lower()
        if name not in SHELLS:
            raise UsageError(f"unsupported shell {shell[:20]!r}", hint="one of: bash, zsh, fish")
        from typer._completion_shared import get_completion_script

        return get_completion_script(prog_name="proaudit", complete_var=COMPLETE_VAR, shell=name), 0

    def show(script: str) -> None:
        import sys

        sys.stdout.write(script if script.endswith("\n") else script + "\n")

    run_plain(ctx, body, show)
