"""`proaudit refunds ...`: check, issue, resume, status, list (runbook: Refund Processing).

Exit codes: check 0 eligible, 1 not eligible; issue 0 refunded (or planned), 2 bad input (amount
negative, zero, over the refundable, another currency, more than two decimals), 4 refused (not
eligible, already refunded, another run holds it, no --yes), 5 outcome unknown (run resume).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from proaudit_ops.cli.groups import group_app
from proaudit_ops.cli.mutation import DryRun, Live, PlanOut, Yes, apply_options, render_guard_result
from proaudit_ops.cli.options import parse_window
from proaudit_ops.cli.runner import run

if TYPE_CHECKING:
    from proaudit_ops.core.refunds.issue import IssueResult
    from proaudit_ops.runtime import Runtime

app = group_app("refunds")

Payment = Annotated[str, typer.Argument(help="The payment: its reference (PSK-ELIGIBLE-0001) or its UUID.")]


@app.command("check")
def check(ctx: typer.Context, payment: Payment) -> None:
    """Is PAYMENT refundable, how much, and if not, why (exit 0 eligible, 1 not).

    \b
    Examples:
      proaudit refunds check PSK-ELIGIBLE-0001
      proaudit refunds check PSK-LATE-0001 --json
    """
    from proaudit_ops.core.refunds.eligibility import check_refund

    run(ctx, lambda rt: check_refund(rt, payment), _render_check, exit_code=lambda r: r.exit_code)


@app.command("issue")
def issue(
    ctx: typer.Context,
    payment: Payment,
    reason: Annotated[str, typer.Option("--reason", help="Why (Paystack's merchant note and the audit log).")],
    amount: Annotated[
        str | None, typer.Option("--amount", help="Amount in major units: 5,000.00, ₦5,000.00, '5000 NGN'.")
    ] = None,
    amount_kobo: Annotated[int | None, typer.Option("--amount-kobo", min=1, help="Amount in subunits (kobo).")] = None,
    downgrade: Annotated[str | None, typer.Option("--downgrade", help="Set the subscription's tier.")] = None,
    cancel_at_period_end: Annotated[
        bool, typer.Option("--cancel-at-period-end", help="Cancel the subscription when its period ends.")
    ] = False,
    another: Annotated[
        bool, typer.Option("--another", help="A further partial refund of an amount already refunded once.")
    ] = False,
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
    plan_out: PlanOut = None,
) -> None:
    """Refund PAYMENT at Paystack exactly once and record it (default: all that is refundable).

    \b
    Examples:
      proaudit refunds issue PSK-ELIGIBLE-0001 --reason "customer request" --dry-run
      proaudit refunds issue PSK-ELIGIBLE-0001 --amount 5,000.00 --reason "partial" --yes
      proaudit refunds issue PSK-ELIGIBLE-0001 --reason "churn" --cancel-at-period-end --plan-out r.json
    """
    from proaudit_ops.cli.confirm import confirm
    from proaudit_ops.core.refunds.issue import RefundRequest, issue_refund

    request = RefundRequest(payment, reason, amount, amount_kobo, downgrade, cancel_at_period_end, another)

    def call(rt: Runtime) -> IssueResult:
        options = apply_options(rt, dry_run=dry_run, yes=yes, live=live, plan_out=plan_out)
        return issue_refund(rt, request, options, confirm)

    run(ctx, call, _render_issue, exit_code=lambda r: r.exit_code)


@app.command("resume")
def resume(
    ctx: typer.Context,
    op: Annotated[str | None, typer.Argument(help="The intent's op key (default: every open refund intent).")] = None,
) -> None:
    """Finish refunds left started or unknown: Paystack is asked first, nothing is sent twice.

    \b
    Examples:
      proaudit refunds resume
      proaudit refunds resume refund:PSK-ELIGIBLE-0001:15000000 --yes
    """
    from proaudit_ops.core.refunds.issue import resume_refunds

    run(ctx, lambda rt: resume_refunds(rt, op), _render_resume, exit_code=lambda r: r.exit_code)


@app.command("status")
def status(
    ctx: typer.Context,
    what: Annotated[str, typer.Argument(help="A payment (reference or UUID) or a Paystack refund id.")],
) -> None:
    """Paystack's view of the refunds (pending, processing, needs-attention, processed, failed) beside ours.

    \b
    Examples:
      proaudit refunds status PSK-PARTIAL-0001
      proaudit refunds status PSK-PSREFUNDED-0001 --json
    """
    from proaudit_ops.core.refunds.views import refund_status

    run(ctx, lambda rt: refund_status(rt, what), _render_status)


@app.command("list")
def list_(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="Refund intents started within this window.")] = "7d",
) -> None:
    """Refunds issued with proaudit (their intents), newest first.

    \b
    Examples:
      proaudit refunds list
      proaudit refunds list --since 30d --json
    """
    from proaudit_ops.core.refunds.views import list_refunds

    window = parse_window(since, "--since")
    run(ctx, lambda rt: list_refunds(rt, window), _render_list)


# -- rendering --------------------------------------------------------------------------------


def _render_check(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.core.refunds.eligibility import Eligibility

    assert isinstance(result, Eligibility)
    out = render.console()
    verdict = "eligible" if result.eligible else "not eligible"
    out.print(f"{result.reference}: {verdict} for a refund", markup=False)
    out.print(f"  paid: {render.amount(int(result.payment['amount_kobo']), result.currency)}", markup=False)
    out.print(
        f"  refunded here: {render.amount(result.refunded_here, result.currency)}; "
        f"at Paystack: {render.amount(result.refunded_at_paystack, result.currency)}",
        markup=False,
    )
    refundable = render.amount(result.refundable, result.currency) if result.eligible else "nothing (not eligible)"
    out.print(f"  refundable: {refundable}", markup=False)
    out.print(f"  subscription: {result.subscription_state or 'none'}", markup=False)
    for note in result.notes:
        out.print(f"  note: {note}", markup=False)
    for reason in result.reasons:
        out.print(f"  why not: {reason}", markup=False)


def _render_issue(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.core.refunds.issue import IssueResult

    assert isinstance(result, IssueResult)
    out = render.console()
    for note in result.notes:
        out.print(f"{result.reference}: {note}", markup=False)
    if result.guard is not None:
        render_guard_result(result.guard, show_sql=False)
    intent = result.intent
    if intent is not None:
        out.print(
            f"{result.reference}: refund {render.amount(result.amount, result.currency)} · intent {intent.op_key} "
            f"{intent.state} · Paystack refund {intent.external_id or '—'}",
            markup=False,
        )
    elif result.outcome == "planned" and result.needs_approval:
        out.print("needs a second operator: they run `proaudit approve FILE`, then `proaudit apply FILE`")


def _render_resume(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.core.refunds.issue import ResumeResult

    assert isinstance(result, ResumeResult)
    out = render.console()
    if not result.results:
        out.print("no refund intent is open: nothing to resume", markup=False)
    for r in result.results:
        how = {"done": "refunded (one POST)", "adopted": "found at Paystack and recorded (no POST)"}.get(
            r.outcome, "already done"
        )
        out.print(f"{r.intent.op_key}: {how}; Paystack refund {r.intent.external_id}", markup=False)


def _render_status(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, OPTIONAL, Col
    from proaudit_ops.core.refunds.views import RefundStatus

    assert isinstance(result, RefundStatus)
    out = render.console()
    p = result.payment
    currency = str(p["currency"])
    out.print(
        f"{p['reference']}: {p['status']} here, refunded {render.amount(p.get('refund_amount_kobo') or 0, currency)} "
        f"of {render.amount(int(p['amount_kobo']), currency)} (refund_reference {p.get('refund_reference') or '—'})",
        markup=False,
    )
    table = render.Grid(
        [
            Col("refund", ESSENTIAL),
            Col("amount", ESSENTIAL),
            Col("at Paystack", ESSENTIAL),
            Col("ours", ESSENTIAL),
            Col("created", OPTIONAL),
        ],
        title="refunds at Paystack",
    )
    for refund in result.paystack:
        table.add_row(
            str(refund.id),
            render.amount(int(refund.amount), currency),
            str(refund.status),
            result.ours(str(refund.id)),
            render.when(refund.created_at) if refund.created_at else "—",
        )
    if result.paystack:
        out.print(table)
    else:
        out.print("Paystack has no refund of this transaction", markup=False)
    for intent in result.intents:
        out.print(f"intent {intent.op_key}: {intent.state} (Paystack refund {intent.external_id or '—'})", markup=False)


def _render_list(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, OPTIONAL, Col
    from proaudit_ops.core.refunds.views import RefundList

    assert isinstance(result, RefundList)
    out = render.console()
    if not result.items:
        out.print(f"no refunds since {render.when(result.since)}", markup=False)
        return
    table = render.Grid(
        [
            Col("payment", ESSENTIAL),
            Col("amount", ESSENTIAL),
            Col("state", ESSENTIAL),
            Col("refund", ESSENTIAL),
            Col("started", OPTIONAL),
            Col("op key", ESSENTIAL),
        ],
        title=f"refunds since {render.when(result.since)}",
    )
    for item in result.items:
        i = item.intent
        table.add_row(
            item.reference or i.target,
            render.amount(int(i.params["amount"]), str(i.params["currency"])),
            i.state,
            i.external_id or "—",
            render.when(i.created_at),
            i.op_key,
        )
    out.print(table)
