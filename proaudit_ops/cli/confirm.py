"""The confirmation prompt the change guard calls: show the plan, then ask.

One row: `y/N`. More than one row (a bulk plan): the operator types the number of rows.
The prompt goes to stderr (stdout stays data); when stdout is piped (`--fix | tee log`) the plan
is shown on stderr too, next to the question. Any progress bar is cleared first. End of input
means no; Ctrl-C raises KeyboardInterrupt, which the guard records as `aborted` and the CLI turns
into exit 130.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from proaudit_ops.protocols.approval import Proposal
    from proaudit_ops.protocols.plan import Plan


def ask(question: str) -> str | None:
    """One line from stdin after a prompt on stderr; None at end of input."""
    from proaudit_ops.cli.progress import pause

    pause()
    sys.stderr.write(question)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if line == "":
        sys.stderr.write("\n")
        return None
    return line.strip()


def approve(count: int, bulk: str, one: str) -> bool:
    """y/N for one item; for more than one the operator types the count (no reflex `y`)."""
    if count > 1:
        answer = ask(f"{bulk}. Type {count} to apply, anything else aborts: ")
        return answer == str(count)
    if count == 0:
        return False
    answer = ask(f"{one}? [y/N] ")
    return answer is not None and answer.lower() in ("y", "yes")


def screen() -> Console:
    """Where the plan is shown before a question: stdout on a terminal, else stderr (the prompt's side)."""
    from proaudit_ops.cli import render
    from proaudit_ops.cli.progress import pause

    pause()
    out = render.console()
    return out if out.is_terminal else render.err_console()


def confirm(plan: Plan) -> bool:
    from proaudit_ops.cli.plan_view import render_plan

    render_plan(plan, screen())
    rows = plan.expected_rows
    change = plan.changes[0] if plan.changes else None
    one = f"Apply this change to {change.table} {change.label}" if change else ""
    return approve(rows, f"This changes {rows} rows", one)


def confirm_proposal(proposal: Proposal) -> bool:
    """The same prompt for actions that are not row changes (replays, redeliveries)."""
    from proaudit_ops.cli.progress import pause
    from proaudit_ops.cli.render import err_console

    pause()
    out = err_console()
    out.print(proposal.summary, markup=False)
    for item in proposal.details[:20]:
        out.print("  " + ", ".join(f"{k}={v}" for k, v in item.items()), markup=False)
    if len(proposal.details) > 20:
        out.print(f"  ... and {len(proposal.details) - 20} more", markup=False)
    return approve(
        proposal.count,
        f"This sends {proposal.count} items",
        proposal.summary[0].upper() + proposal.summary[1:],
    )
