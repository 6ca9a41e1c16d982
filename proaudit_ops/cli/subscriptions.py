"""`proaudit subscriptions ...`: show, list, and guarded changes (runbook: Subscription Issues)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from proaudit_ops.cli.groups import group_app
from proaudit_ops.cli.mutation import DryRun, Live, PlanOut, ShowSql, Yes, apply_options, render_guard_result
from proaudit_ops.cli.options import parse_window
from proaudit_ops.cli.runner import run

if TYPE_CHECKING:
    from pathlib import Path

    from proaudit_ops.core.subscriptions.changes import ChangeRequest, SubscriptionChange
    from proaudit_ops.runtime import Runtime

app = group_app("subscriptions")

Org = Annotated[
    str, typer.Argument(help="The organization: its UUID, its exact name, or one of its payment references.")
]
Reason = Annotated[str | None, typer.Option("--reason", help="Why (goes to the audit log).")]
Tier = Annotated[str, typer.Option("--tier", help="core | professional | enterprise.")]
Cycle = Annotated[str, typer.Option("--cycle", help="monthly | annual.")]
From = Annotated[
    str | None,
    typer.Option(
        "--from", metavar="DATE", help="Period start (YYYY-MM-DD or ISO time, UTC); default: the payment's paid_at."
    ),
]


@app.command("show")
def show(ctx: typer.Context, org: Org) -> None:
    """The subscription, organization, recent payments, dunning state and audit history of ORG."""
    from proaudit_ops.core.subscriptions.view import show_subscription

    run(ctx, lambda rt: show_subscription(rt.engine(), org), _render_show)


@app.command("list")
def list_(
    ctx: typer.Context,
    state: Annotated[
        str | None, typer.Option("--state", help="active | trial | past_due | cancelled | expiring.")
    ] = None,
    within: Annotated[str | None, typer.Option("--within", help="With --state expiring: ends within (7d).")] = None,
) -> None:
    """Subscriptions, optionally only those in one state or expiring soon."""
    from proaudit_ops.core.subscriptions.view import list_subscriptions

    window = parse_window(within, "--within") if within else None
    run(ctx, lambda rt: list_subscriptions(rt.engine(), state=state, within=window), _render_list)


@app.command("activate")
def activate(
    ctx: typer.Context,
    org: Org,
    tier: Tier,
    cycle: Cycle,
    start: From = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Activate although no successful payment covers it (audited).")
    ] = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
    show_sql: ShowSql = False,
    plan_out: PlanOut = None,
) -> None:
    """Activate TIER/CYCLE for ORG, the period by calendar; refused (exit 4) unless a payment covers it."""
    from proaudit_ops.core.subscriptions.changes import ChangeRequest

    request = ChangeRequest("activate", tier=tier, cycle=cycle, start=_date(start), reason=reason)
    _change(ctx, org, request, dry_run, yes, live, show_sql, plan_out)


@app.command("convert-trial")
def convert_trial(
    ctx: typer.Context,
    org: Org,
    start: From = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Convert although no successful payment covers it (audited).")
    ] = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
    show_sql: ShowSql = False,
    plan_out: PlanOut = None,
) -> None:
    """End ORG's trial and start the paid period its payment bought (refused without one, exit 4)."""
    from proaudit_ops.core.subscriptions.changes import ChangeRequest

    request = ChangeRequest("convert_trial", start=_date(start), reason=reason)
    _change(ctx, org, request, dry_run, yes, live, show_sql, plan_out)


@app.command("extend")
def extend(
    ctx: typer.Context,
    org: Org,
    days: Annotated[int, typer.Option("--days", help="Days of grace (1-60).")],
    reason: Reason = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
    show_sql: ShowSql = False,
    plan_out: PlanOut = None,
) -> None:
    """Give ORG N days of grace: the period end moves N days on (from now if already past)."""
    from proaudit_ops.core.subscriptions.changes import ChangeRequest

    _change(ctx, org, ChangeRequest("extend", days=days, reason=reason), dry_run, yes, live, show_sql, plan_out)


@app.command("set-tier")
def set_tier(
    ctx: typer.Context,
    org: Org,
    tier: Annotated[str, typer.Argument(help="core | professional | enterprise.")],
    reason: Reason = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
    show_sql: ShowSql = False,
    plan_out: PlanOut = None,
) -> None:
    """Change ORG's tier (the period stays as it is)."""
    from proaudit_ops.core.subscriptions.changes import ChangeRequest

    _change(ctx, org, ChangeRequest("set_tier", tier=tier, reason=reason), dry_run, yes, live, show_sql, plan_out)


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    org: Org,
    at_period_end: Annotated[
        bool, typer.Option("--at-period-end", help="Cancel when the paid period ends (required).")
    ] = False,
    reason: Reason = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
    show_sql: ShowSql = False,
    plan_out: PlanOut = None,
) -> None:
    """Cancel ORG at the end of its paid period (cancel_at_period_end, with the reason)."""
    from proaudit_ops.core.subscriptions.changes import ChangeRequest

    request = ChangeRequest("cancel", reason=reason, at_period_end=at_period_end)
    _change(ctx, org, request, dry_run, yes, live, show_sql, plan_out)


def _change(
    ctx: typer.Context,
    org: str,
    request: ChangeRequest,
    dry_run: bool,
    yes: bool,
    live: bool,
    show_sql: bool,
    plan_out: Path | None,
) -> None:
    from proaudit_ops.cli.confirm import confirm
    from proaudit_ops.core.subscriptions.changes import run_change

    def call(rt: Runtime) -> SubscriptionChange:
        options = apply_options(rt, dry_run=dry_run, yes=yes, live=live, plan_out=plan_out)
        return run_change(rt, org, request, options, confirm, show_sql=show_sql)

    run(ctx, call, lambda r: _render_change(r, show_sql), exit_code=lambda r: r.exit_code)


def _date(text: str | None) -> datetime | None:
    """--from: a date (midnight UTC) or an ISO time; naive times are UTC."""
    if text is None:
        return None
    from datetime import UTC

    from proaudit_ops.timeutil import parse_iso

    try:
        parsed = parse_iso(text.strip())
    except ValueError:
        parsed = None
    if parsed is None or len(text) > 40:
        raise typer.BadParameter(f"not a date: {text[:40]!r} (expected e.g. 2026-01-31)", param_hint="--from")
    return parsed.astimezone(UTC)


# -- rendering --------------------------------------------------------------------------------


def _render_row(title: str, row: dict[str, object] | None) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, Col

    table = render.Grid([Col("field"), Col("value", ESSENTIAL)], title=title, show_header=False)
    for key, value in (row or {}).items():
        table.add_row(key, render.value(key, value, (row or {}).get("currency")))
    render.console().print(table if row else f"{title}: none")


def _render_show(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, OPTIONAL, Col
    from proaudit_ops.core.subscriptions.view import SubscriptionDetails

    assert isinstance(result, SubscriptionDetails)
    out = render.console()
    _render_row("organization", result.organization)
    _render_row(f"subscription ({result.state})" if result.state else "subscription", result.subscription)
    payments = render.Grid(
        [Col("reference", ESSENTIAL), Col("status", ESSENTIAL), Col("amount", ESSENTIAL), Col("paid_at", ESSENTIAL),
         Col("refunded", ESSENTIAL)],
        title="recent payments",
    )  # fmt: skip
    for p in result.payments:
        refunded = render.value("refund_amount_kobo", p["refund_amount_kobo"], p["currency"])
        amount = render.value("amount_kobo", p["amount_kobo"], p["currency"])
        payments.add_row(str(p["reference"]), str(p["status"]), amount, render.value("paid_at", p["paid_at"]), refunded)
    out.print(payments if result.payments else "no payments")
    dunning = render.Grid(
        [Col("status", ESSENTIAL), Col("attempts"), Col("last failure", ESSENTIAL), Col("next retry", ESSENTIAL)],
        title="dunning",
    )
    for d in result.dunning:
        attempts = f"{d['attempt_count']}/{d['max_attempts']}"
        dunning.add_row(
            str(d["status"]), attempts, render.text(d["last_failure_reason"]), render.when(d["next_retry_at"])
        )
    out.print(dunning if result.dunning else "no dunning records")
    trail = render.Grid(
        [Col("seq", ESSENTIAL, "right"), Col("time", ESSENTIAL), Col("actor", OPTIONAL), Col("action", ESSENTIAL),
         Col("target", ESSENTIAL), Col("outcome", ESSENTIAL)],
        title="audit records",
    )  # fmt: skip
    for r in result.audit:
        trail.add_row(str(r.seq), render.when(r.ts), r.actor, r.action, render.text(r.target), r.outcome)
    out.print(trail if result.audit else "no audit records for this organization")


def _render_list(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, OPTIONAL, Col
    from proaudit_ops.core.subscriptions.view import SubscriptionList

    assert isinstance(result, SubscriptionList)
    what = result.state or "all"
    if result.state == "expiring" and result.within is not None:
        what = f"expiring within {result.within.days}d" if result.within.days else "expiring"
    table = render.Grid(
        [Col("organization", ESSENTIAL), Col("tier", ESSENTIAL), Col("cycle"), Col("state", ESSENTIAL),
         Col("period end", ESSENTIAL), Col("cancel at end", OPTIONAL), Col("id", OPTIONAL)],
        title=f"subscriptions ({what})",
    )  # fmt: skip
    for i in result.items:
        table.add_row(
            i.name, i.tier, i.billing_cycle, i.state, render.when(i.current_period_end),
            "yes" if i.cancel_at_period_end else "", i.organization_id,
        )  # fmt: skip
    out = render.console()
    out.print(table)
    out.print(f"{len(result.items)} subscription(s)")


def _render_change(result: object, show_sql: bool) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.core.subscriptions.changes import SubscriptionChange

    assert isinstance(result, SubscriptionChange)
    out = render.console()
    if result.note:
        out.print(f"{result.organization}: {result.note}", markup=False)
    render_guard_result(result.guard, show_sql=show_sql, sql=result.sql)
    if result.outcome == "applied" and result.after is not None:
        _render_row(f"subscription after ({result.state_after})", result.after)
    elif result.outcome == "planned" and result.after is not None:
        out.print(f"state: {result.state_before} -> {result.state_after} once applied", markup=False)
