"""`proaudit payments ...`: verify (and --fix), stuck, status, show."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from proaudit_ops.cli.groups import group_app
from proaudit_ops.cli.mutation import (
    DryRun,
    Live,
    PlanOut,
    ShowSql,
    Yes,
    apply_options,
    render_guard_result,
)
from proaudit_ops.cli.options import parse_age, parse_window
from proaudit_ops.cli.runner import refuse_idle_flags, run

if TYPE_CHECKING:
    from proaudit_ops.core.payments.fix import FixResult
    from proaudit_ops.core.payments.stuck import StuckResult
    from proaudit_ops.runtime import Runtime

app = group_app("payments")

Reference = Annotated[str, typer.Argument(help="The Paystack transaction reference, e.g. PSK-STUCK-0001.")]


@app.command("verify")
def verify(
    ctx: typer.Context,
    reference: Reference,
    fix: Annotated[bool, typer.Option("--fix", help="Fix a stuck or not-paid payment (guarded, audited).")] = False,
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
    show_sql: ShowSql = False,
    plan_out: PlanOut = None,
) -> None:
    """Compare a payment in the database with Paystack and diagnose it (read-only unless --fix).

    \b
    Examples:
      proaudit payments verify PSK-STUCK-0001
      proaudit payments verify PSK-STUCK-0001 --fix --dry-run
      proaudit payments verify PSK-STUCK-0001 --fix --yes
    """
    if not fix:
        refuse_idle_flags(ctx, "--fix", _fix_flags(dry_run, yes, live, show_sql, plan_out))
        from proaudit_ops.core.payments.verify import verify_payment

        run(
            ctx,
            lambda rt: verify_payment(rt, reference),
            _render_verify,
            exit_code=lambda r: r.exit_code,
        )
        return
    from proaudit_ops.cli.confirm import confirm
    from proaudit_ops.core.payments.fix import fix_payment

    def call(rt: Runtime) -> FixResult:
        options = apply_options(rt, dry_run=dry_run, yes=yes, live=live, plan_out=plan_out)
        return fix_payment(rt, reference, options, confirm, show_sql=show_sql)

    run(ctx, call, lambda r: _render_fix(r, show_sql), exit_code=lambda r: r.exit_code)


@app.command("stuck")
def stuck(
    ctx: typer.Context,
    older_than: Annotated[
        str | None, typer.Option("--older-than", help="Only payments pending longer than this (default 15m).")
    ] = None,
    since: Annotated[str, typer.Option("--since", help="Only payments created within this window.")] = "24h",
    verify: Annotated[bool, typer.Option("--verify", help="Check each at Paystack (concurrently).")] = False,
    fix: Annotated[
        bool,
        typer.Option("--fix", help="Fix every fixable one in one guarded plan (implies --verify)."),
    ] = False,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", min=1, max=64, help="Parallel Paystack calls (default 8)."),
    ] = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
    show_sql: ShowSql = False,
    plan_out: PlanOut = None,
) -> None:
    """List pending payments; --verify checks them at Paystack; --fix settles the fixable ones.

    \b
    Examples:
      proaudit payments stuck --older-than 15m
      proaudit payments stuck --verify --since 24h
      proaudit payments stuck --fix --dry-run
      proaudit payments stuck --fix --plan-out stuck.json
    """
    from proaudit_ops.cli.progress import progress_bar

    if not fix:
        refuse_idle_flags(ctx, "--fix", _fix_flags(dry_run, yes, live, show_sql, plan_out))
        if not verify:
            refuse_idle_flags(ctx, "--verify or --fix", {"--concurrency": concurrency is not None})

    window = parse_window(since, "--since")
    flag_older = parse_age(older_than, "--older-than") if older_than is not None else None

    def call(rt: Runtime) -> StuckResult:
        from proaudit_ops.cli.confirm import confirm
        from proaudit_ops.core.payments.stuck import fix_stuck, scan_stuck
        from proaudit_ops.timeutil import parse_duration

        older = flag_older if flag_older is not None else parse_duration(rt.settings.proaudit_stuck_older_than)
        if older >= window:
            from proaudit_ops.errors import UsageError
            from proaudit_ops.timeutil import format_duration

            raise UsageError(
                f"--older-than {format_duration(older)} is not shorter than --since {format_duration(window)}: "
                "no payment can match",
                hint="widen --since or lower --older-than",
            )
        workers = concurrency or rt.settings.proaudit_concurrency
        with progress_bar("verifying at Paystack") as progress:
            if fix:
                options = apply_options(rt, dry_run=dry_run, yes=yes, live=live, plan_out=plan_out)
                return fix_stuck(
                    rt,
                    older_than=older,
                    since=window,
                    concurrency=workers,
                    options=options,
                    confirm=confirm,
                    progress=progress,
                    show_sql=show_sql,
                )
            return scan_stuck(
                rt,
                older_than=older,
                since=window,
                verify=verify,
                concurrency=workers,
                progress=progress,
            )

    run(ctx, call, lambda r: _render_stuck(r, show_sql), exit_code=lambda r: r.exit_code)


@app.command("status")
def status(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="Window to count over.")] = "1h",
) -> None:
    """Payment counts by status, the success rate, and the runbook's thresholds (exit 1 if breached).

    \b
    Examples:
      proaudit payments status
      proaudit --json payments status --since 24h
    """
    from proaudit_ops.core.payments.status import payment_status

    window = parse_window(since, "--since")
    run(ctx, lambda rt: payment_status(rt, window), _render_status, exit_code=lambda r: r.exit_code)


@app.command("show")
def show(ctx: typer.Context, reference: Reference) -> None:
    """The payment row, its organization and subscription, and the audit records that touched it.

    \b
    Examples:
      proaudit payments show PSK-STUCK-0001
    """
    from proaudit_ops.core.payments.show import show_payment

    run(ctx, lambda rt: show_payment(rt, reference), _render_show)


def _fix_flags(dry_run: bool, yes: bool, live: bool, show_sql: bool, plan_out: object) -> dict[str, bool]:
    """The mutation flags, in the order they are declared (the order the refusal names them)."""
    flags = {"--dry-run": dry_run, "--yes": yes, "--live": live, "--show-sql": show_sql}
    return {**flags, "--plan-out": plan_out is not None}


# -- rendering --------------------------------------------------------------------------------


def _render_verify(result: object, *, hint: bool = True) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, Col
    from proaudit_ops.core.payments.verify import VerifyResult

    assert isinstance(result, VerifyResult)
    db, ps = result.database, result.paystack
    table = render.Grid(
        [Col("field"), Col("database", ESSENTIAL), Col("paystack", ESSENTIAL)],
        title=f"payment {result.reference}",
    )
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
    style = render.STYLE_BY_HEALTH[result.exit_code == 0]
    out.print(f"[{style}]{result.diagnosis.value}[/]: {result.explanation}")
    _render_entitlement(result.entitlement)
    if hint and result.next_step:
        out.print(f"next: {result.next_step}", markup=False)


def _render_entitlement(check: object, prefix: str = "subscription") -> None:
    """One line: does the organization's tenant_skus row cover what the payment bought?"""
    from rich.text import Text

    from proaudit_ops.cli import render
    from proaudit_ops.core.payments.entitled import ENTITLED, NOT_ENTITLED, UNKNOWN, EntitlementCheck

    if not isinstance(check, EntitlementCheck) or check.status not in (ENTITLED, NOT_ENTITLED, UNKNOWN):
        return
    words = {ENTITLED: ("entitled", "green"), NOT_ENTITLED: ("NOT entitled", "bold red")}
    label, style = words.get(check.status, ("entitlement unknown", "bold red"))
    covered = check.status == ENTITLED
    until = f" until {render.when(check.paid_until)}" if covered else ""
    bought = f"bought {check.tier} {check.billing_cycle}{until}" if check.tier else ""
    ends = f", period ends {render.when(check.current_period_end)}" if covered else ""
    row = (
        f"row {check.subscription_state}, {check.subscription_tier}{ends}"
        if check.subscription_state
        else "no subscription row"
    )
    detail = "; ".join(part for part in (bought, row) if part)
    line = Text.assemble(f"{prefix}: ", (label, style))
    if not covered:  # the reasons name the dates: said once
        line.append(f": {check.explanation}")
    line.append(f" ({detail})" if detail else "")
    render.console().print(line)


def _render_fix(result: object, show_sql: bool) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.core.payments.fix import FixResult

    assert isinstance(result, FixResult)
    # The diagnosis as found, unless the fix changed it: then the rows after the change say what is true now.
    # Once a fix is applied or planned, its "next: --fix" hint is moot.
    if result.outcome != "applied":
        _render_verify(result.verify, hint=result.outcome == "not_fixable")
    render_guard_result(result.guard, show_sql=show_sql, sql=result.sql)
    out = render.console()
    for note in result.notes or []:
        out.print(f"note: {note}", markup=False)
    if result.entitlement is not None:
        _render_entitlement(result.entitlement, "subscription now")
        if result.exit_code == 1:
            out.print(f"next: proaudit subscriptions show {result.verify.reference}", markup=False)


def _render_stuck(result: object, show_sql: bool) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, OPTIONAL, Col
    from proaudit_ops.core.payments.stuck import StuckResult, settled_summary

    assert isinstance(result, StuckResult)
    out = render.console()
    applied = result.fix_outcome == "applied"
    # After a fix, the payments it settled are no longer pending: list only the rest, then the rows as changed.
    items = [i for i in result.items if i.reference not in result.fixed] if applied else result.items
    columns = [Col("reference", ESSENTIAL), Col("amount", ESSENTIAL, "right"), Col("age", OPTIONAL, "right")]
    if result.verified:
        columns += [Col("paystack", OPTIONAL), Col("diagnosis", ESSENTIAL)]
    title = "still pending" if applied else "pending payments"
    table = render.Grid(columns, title=f"{title} older than {result.older_than_minutes} min")
    for item in items:
        cells = [item.reference, item.amount.format(), f"{item.age_minutes} min"]
        if result.verified:
            cells += [
                render.text(item.paystack_status),
                item.error or (item.diagnosis.value if item.diagnosis else "—"),
            ]
        table.add_row(*cells)
    if items:
        out.print(table)
    if applied:
        entitled = len(result.entitled)
        extended = f", {entitled} subscription(s) extended to the period paid for" if entitled else ""
        out.print(f"{len(result.fixed)} fixed{extended}; {len(items)} still pending", markup=False)
    elif result.verified:
        out.print(f"{len(result.items)} pending; fixable: {settled_summary(result.fixable)}", markup=False)
    else:
        out.print(f"{len(result.items)} pending (add --verify to check them at Paystack)")
    for note in result.notes:
        out.print(f"note: {note}", markup=False)
    render_guard_result(result.guard, show_sql=show_sql, sql=result.sql)


def _render_status(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, Col
    from proaudit_ops.core.payments.status import StatusResult

    assert isinstance(result, StatusResult)
    out = render.console()
    table = render.Grid(
        [Col("status", ESSENTIAL), Col("count", ESSENTIAL, "right")],
        title=f"payments since {render.when(result.since)}",
    )
    for status_name, count in result.counts.items():
        table.add_row(status_name, str(count))
    table.add_row("total", str(result.total))
    out.print(table)
    rate = "—" if result.success_rate_pct is None else f"{result.success_rate_pct:.2f}%"
    style = {"ok": "green", "no_data": "dim", "warning": "yellow", "critical": "bold red"}.get(result.level, "bold red")
    out.print(
        f"success rate {rate}: [{style}]{result.level}[/] "
        f"(warning below {result.warning_below_pct}%, critical below {result.critical_below_pct}%)"
    )
    if result.diagnosis:
        out.print(f"[{style}]{result.level}[/]: {result.diagnosis}")
        out.print("next: proaudit payments stuck --verify; proaudit webhooks gaps --since 24h", markup=False)


def _render_show(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, OPTIONAL, Col
    from proaudit_ops.core.payments.show import PaymentDetails

    assert isinstance(result, PaymentDetails)
    out = render.console()
    for title, row in (
        ("payment", result.payment),
        ("organization", result.organization),
        ("subscription", result.subscription),
    ):
        table = render.Grid([Col("field"), Col("value", ESSENTIAL)], title=title, show_header=False)
        for key, value in (row or {}).items():
            table.add_row(key, render.value(key, value, (row or {}).get("currency")))
        out.print(table)
    _render_entitlement(result.coverage, "coverage")
    if result.coverage is not None and result.coverage.status not in ("entitled", "not_entitled", "unknown"):
        out.print(f"coverage: {result.coverage.explanation}", markup=False)
    if result.coverage_note:
        out.print(f"note: {result.coverage_note}", markup=False)
    trail = render.Grid(
        [
            Col("seq", ESSENTIAL, "right"),
            Col("time", ESSENTIAL),
            Col("actor", OPTIONAL),
            Col("action", ESSENTIAL),
            Col("outcome", ESSENTIAL),
        ],
        title="audit records",
    )
    for record in result.audit:
        trail.add_row(str(record.seq), render.when(record.ts), record.actor, record.action, record.outcome)
    out.print(trail if result.audit else "no audit records for this payment")
