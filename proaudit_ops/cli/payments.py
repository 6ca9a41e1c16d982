"""`proaudit payments ...`: verify, fix, stuck, status, show."""

from __future__ import annotations

import typer

from proaudit_ops.cli.runner import run

app = typer.Typer(help="Diagnose and fix payments (runbook: Payment Failures).", no_args_is_help=True)


@app.command("verify")
def verify(
    ctx: typer.Context,
    reference: str = typer.Argument(..., help="The Paystack transaction reference, e.g. PSK-STUCK-0001."),
) -> None:
    """Compare a payment in the database with Paystack and diagnose it (read-only)."""
    from proaudit_ops.core.payments.verify import verify_payment

    run(ctx, lambda rt: verify_payment(rt, reference), _render_verify, exit_code=lambda r: r.exit_code)


def _render_verify(result: object) -> None:
    from rich.table import Table

    from proaudit_ops.cli import render
    from proaudit_ops.core.payments.verify import VerifyResult

    assert isinstance(result, VerifyResult)
    db, ps = result.database, result.paystack
    table = Table(title=f"payment {result.reference}", title_justify="left")
    table.add_column("field")
    table.add_column("database")
    table.add_column("paystack")
    if not db.found or not ps.found:
        table.add_row("found", "yes" if db.found else "NO", "yes" if ps.found else "NO")
    table.add_row("status", render.text(db.status), render.text(ps.status))
    table.add_row("amount", render.money(db.amount), render.money(ps.amount))
    table.add_row("currency", render.text(db.currency), render.text(ps.currency))
    table.add_row("paid_at", render.when(db.paid_at), render.when(ps.paid_at))
    table.add_row("gateway_response", render.text(db.gateway_response), render.text(ps.gateway_response))
    table.add_row("channel", render.text(db.channel), render.text(ps.channel))
    out = render.console()
    out.print(table)
    healthy = result.exit_code == 0
    style = render.STYLE_BY_HEALTH[healthy]
    out.print(f"[{style}]{result.diagnosis.value}[/]: {result.explanation}")
    if result.next_step:
        out.print(f"next: {result.next_step}")
