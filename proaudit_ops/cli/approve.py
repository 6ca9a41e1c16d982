"""`proaudit approve FILE`: the second operator of the two-person rule (large refunds)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proaudit_ops.cli.groups import group_app
from proaudit_ops.cli.runner import run

app = group_app("approve", no_args_is_help=False)


def approve_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A plan saved with --plan-out by another operator.", metavar="FILE")],
) -> None:
    """Approve another operator's saved plan; then anyone runs `proaudit apply FILE`.

    Refused (exit 4) for your own plan, an edited or unknown plan, or one that needs no approval.
    Example: PROAUDIT_OPERATOR=bob proaudit approve refund.json
    """
    from proaudit_ops.protocols.intents import approve_plan

    run(ctx, lambda rt: approve_plan(rt.guard(), file), _render)


app.command("approve")(approve_command)


def _render(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.protocols.intents import Approval

    assert isinstance(result, Approval)
    seq = f" (audit #{result.audit_seq})" if result.audit_seq is not None else ""
    render.console().print(
        f"approved plan {result.plan.plan_hash[:12]} ({result.plan.action} {result.plan.target}): "
        f"planned by {result.planned_by}, approved by {result.approved_by}{seq}; next: proaudit apply FILE",
        markup=False,
    )
