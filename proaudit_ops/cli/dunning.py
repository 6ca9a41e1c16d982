"""`proaudit dunning ...`: status, failures, list, preview, retry, retry-all (runbook: Dunning/Collection Issues).

Exit codes: status 0 nothing owed, 1 an active record; retry 0 recovered, 1 charged and declined
(still owed), 4 refused (maintenance on, nothing to retry, Paystack says not to retry, no --yes),
5 outcome unknown (rerun: it verifies the reference first); retry-all 0 done, 1 the breaker opened
or records remain (the command to resume is printed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from proaudit_ops.cli.groups import group_app
from proaudit_ops.cli.mutation import DryRun, Live, PlanOut, Yes, apply_options, render_guard_result
from proaudit_ops.cli.runner import run

if TYPE_CHECKING:
    from proaudit_ops.core.dunning.batch import BatchResult
    from proaudit_ops.core.dunning.retry import RetryResult
    from proaudit_ops.runtime import Runtime

app = group_app("dunning")

Org = Annotated[str, typer.Argument(help="The organization: its exact name, email, UUID or a unique part of its name.")]
Force = Annotated[bool, typer.Option("--force", help="Charge even while maintenance mode is on.")]


@app.command("status")
def status(ctx: typer.Context, org: Org) -> None:
    """ORG's dunning records, attempts, next retry, money at stake and subscription (exit 1 if owed).

    \b
    Examples:
      proaudit dunning status "Sahel Agro Cooperative"
      proaudit dunning status nnamdi --json
    """
    from proaudit_ops.core.dunning.views import dunning_status

    run(ctx, lambda rt: dunning_status(rt, org), _render_status, exit_code=lambda r: r.exit_code)


@app.command("failures")
def failures(ctx: typer.Context, org: Org) -> None:
    """ORG's failed charge attempts with Paystack's gateway responses.

    \b
    Examples:
      proaudit dunning failures "Obi Motors"
      proaudit dunning failures nnamdi --json
    """
    from proaudit_ops.core.dunning.views import dunning_failures

    run(ctx, lambda rt: dunning_failures(rt, org), _render_failures)


@app.command("list")
def list_(
    ctx: typer.Context,
    state: Annotated[
        str | None, typer.Option("--state", help="Only records in this state (active, exhausted, recovered).")
    ] = None,
) -> None:
    """Dunning records, next retry first.

    \b
    Examples:
      proaudit dunning list
      proaudit dunning list --state active --json
    """
    from proaudit_ops.core.dunning.views import dunning_list

    run(ctx, lambda rt: dunning_list(rt, state), _render_list)


@app.command("preview")
def preview(
    ctx: typer.Context,
    days: Annotated[int, typer.Option("--days", min=1, max=90, help="How far ahead to look.")] = 7,
) -> None:
    """What the dunning schedule does next (retried, suspended, cancelled; money at stake). Changes nothing.

    \b
    Examples:
      proaudit dunning preview
      proaudit dunning preview --days 30 --json
    """
    from proaudit_ops.core.dunning.views import dunning_preview

    run(ctx, lambda rt: dunning_preview(rt, days), _render_preview)


@app.command("retry")
def retry(
    ctx: typer.Context,
    org: Org,
    force: Force = False,
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
    plan_out: PlanOut = None,
) -> None:
    """Charge ORG's saved card once for its active dunning record (a rerun verifies the reference first).

    \b
    Examples:
      proaudit dunning retry "Sahel Agro Cooperative" --dry-run
      proaudit dunning retry "Sahel Agro Cooperative" --yes
    """
    from proaudit_ops.cli.confirm import confirm
    from proaudit_ops.core.dunning.retry import retry_org

    def call(rt: Runtime) -> RetryResult:
        options = apply_options(rt, dry_run=dry_run, yes=yes, live=live, plan_out=plan_out)
        return retry_org(rt, org, options, confirm, force=force)

    run(ctx, call, _render_retry, exit_code=lambda r: r.exit_code)


def _email(value: str | None) -> str | None:
    from proaudit_ops.core.dunning.link import check_email

    if value is None:
        return None
    try:
        return check_email(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--email") from None


@app.command("link")
def link(
    ctx: typer.Context,
    org: Org,
    email: Annotated[
        str | None,
        typer.Option(
            "--email", callback=_email, help="The customer email for the checkout (default: the billing email)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Create the link even while maintenance mode is on.")] = False,
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
    plan_out: PlanOut = None,
) -> None:
    """A Paystack payment link for what ORG's active dunning record owes (a second call: the same link).

    Automatic retries of the record stop while the link is open. Exit 0 with the link, 4 refused
    (nothing owed, maintenance on, no --yes), 5 outcome unknown (rerun: it verifies the reference first).

    \b
    Examples:
      proaudit dunning link "Sahel Agro Cooperative" --dry-run
      proaudit dunning link "Sahel Agro Cooperative" --yes
      proaudit dunning link nnamdi --email accounts@nnamdisons.ng --yes --json
    """
    from proaudit_ops.cli.confirm import confirm
    from proaudit_ops.core.dunning.link import LinkResult, link_org

    def call(rt: Runtime) -> LinkResult:
        options = apply_options(rt, dry_run=dry_run, yes=yes, live=live, plan_out=plan_out)
        return link_org(rt, org, email, options, confirm, force=force)

    run(ctx, call, _render_link, exit_code=lambda r: r.exit_code)


@app.command("extend")
def extend(
    ctx: typer.Context,
    org: Org,
    days: Annotated[int, typer.Option("--days", min=1, max=60, help="Grace period in days.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")],
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
    plan_out: PlanOut = None,
) -> None:
    """Give ORG a grace period: the next retry and the subscription's period end move N days later.

    \b
    Examples:
      proaudit dunning extend nnamdi --days 7 --reason "customer promised payment" --dry-run
      proaudit dunning extend nnamdi --days 7 --reason "customer promised payment" --yes
    """
    from proaudit_ops.cli.confirm import confirm
    from proaudit_ops.core.dunning.extend import ExtendResult, extend_grace

    def call(rt: Runtime) -> ExtendResult:
        options = apply_options(rt, dry_run=dry_run, yes=yes, live=live, plan_out=plan_out)
        return extend_grace(rt, org, days, reason, options, confirm)

    def render_it(result: object) -> None:
        assert isinstance(result, ExtendResult)
        render_guard_result(result.guard, show_sql=False)

    run(ctx, call, render_it, exit_code=lambda r: r.exit_code)


@app.command("retry-all")
def retry_all(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many records.")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=32, help="Charges in flight.")] = 4,
    after: Annotated[str | None, typer.Option("--after", help="The cursor a stopped run printed.")] = None,
    force: Force = False,
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
) -> None:
    """Retry every due record; a circuit breaker stops on gateway errors (exit 1 and the command to resume).

    --dry-run plans every due charge (who, which reference, how much) and sends nothing. Exit 1
    also when a record was refused (e.g. no saved card): the output names it.

    \b
    Examples:
      proaudit dunning retry-all --dry-run
      proaudit dunning retry-all --yes
      proaudit dunning retry-all --limit 50 --concurrency 8 --yes
    """
    from proaudit_ops.core.dunning.batch import retry_all as run_all

    def call(rt: Runtime) -> BatchResult:
        options = apply_options(rt, dry_run=dry_run, yes=yes, live=live, plan_out=None)
        return run_all(rt, options, limit=limit, concurrency=concurrency, after=after, force=force)

    run(ctx, call, _render_batch, exit_code=lambda r: r.exit_code)


# -- rendering --------------------------------------------------------------------------------


def _render_status(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, OPTIONAL, Col
    from proaudit_ops.core.dunning.views import Status

    assert isinstance(result, Status)
    s = result.state
    out = render.console()
    sku = s.sku
    sub = (
        f"{sku['tier']} {sku['billing_cycle']}, active={sku['is_active']}, "
        f"period ends {render.when(sku.get('current_period_end'))}"
        if sku
        else "none"
    )
    out.print(f"{s.org['name']}: subscription {sub}", markup=False)
    currency = str(s.records[0]["currency"]) if s.records else "NGN"
    out.print(f"  money at stake: {render.amount(s.at_stake, currency)}", markup=False)
    if not s.records:
        out.print("  no dunning records", markup=False)
        return
    table = render.Grid(
        [
            Col("status", ESSENTIAL),
            Col("attempts", ESSENTIAL),
            Col("amount", ESSENTIAL),
            Col("payment", ESSENTIAL),
            Col("next retry", ESSENTIAL),
            Col("last failure", ESSENTIAL),
            Col("last attempt", OPTIONAL),
        ],
        title="dunning records",
    )
    for r in s.records:
        pay = s.payments.get(str(r["payment_transaction_id"]))
        table.add_row(
            str(r["status"]),
            f"{r['attempt_count']}/{r['max_attempts']}",
            render.amount(int(r["amount_kobo"]), str(r["currency"])),
            str(pay["reference"]) if pay else "—",
            render.when(r.get("next_retry_at")),
            str(r.get("last_failure_reason") or "—"),
            render.when(r.get("last_attempt_at")),
        )
    out.print(table)
    for i in s.intents:
        out.print(f"  charge {i.params['reference']}: intent {i.state} (Paystack {i.external_id or '—'})", markup=False)
        if i.params.get("authorization_url"):
            out.print("  its 2FA approval URL (for the customer):", markup=False)
            out.print(f"  {i.params['authorization_url']}", markup=False, soft_wrap=True, overflow="ignore", crop=False)
    for i in s.links:
        out.print(f"  payment link {i.params['reference']} for {i.params['email']}: intent {i.state}", markup=False)
        if i.params.get("authorization_url"):
            out.print(f"  {i.params['authorization_url']}", markup=False, soft_wrap=True, overflow="ignore", crop=False)


def _render_failures(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, OPTIONAL, Col
    from proaudit_ops.core.dunning.views import Failures

    assert isinstance(result, Failures)
    out = render.console()
    if not result.items:
        out.print(f"{result.organization}: no failed attempt at Paystack", markup=False)
        return
    table = render.Grid(
        [
            Col("reference", ESSENTIAL),
            Col("attempt", OPTIONAL),
            Col("status", ESSENTIAL),
            Col("gateway response", ESSENTIAL),
            Col("amount", ESSENTIAL),
            Col("when", OPTIONAL),
        ],
        title=f"failed attempts of {result.organization}",
    )
    for f in result.items:
        table.add_row(
            f.reference,
            str(f.attempt or "—"),
            f.status,
            f.gateway_response,
            render.amount(f.amount, f.currency),
            render.when(f.when),
        )
    out.print(table)


def _render_list(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, Col
    from proaudit_ops.core.dunning.views import Listing

    assert isinstance(result, Listing)
    out = render.console()
    if not result.records:
        out.print("no dunning records" + (f" in state {result.state}" if result.state else ""), markup=False)
        return
    table = render.Grid(
        [
            Col("organization", ESSENTIAL),
            Col("status", ESSENTIAL),
            Col("attempts", ESSENTIAL),
            Col("amount", ESSENTIAL),
            Col("next retry", ESSENTIAL),
            Col("last failure", ESSENTIAL),
        ],
        title="dunning records",
    )
    for r in result.records:
        table.add_row(
            str(r["organization"]),
            str(r["status"]),
            f"{r['attempt_count']}/{r['max_attempts']}",
            render.amount(int(r["amount_kobo"]), str(r["currency"])),
            render.when(r.get("next_retry_at")),
            str(r.get("last_failure_reason") or "—"),
        )
    out.print(table)


def _render_preview(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, Col
    from proaudit_ops.core.dunning.views import Preview

    assert isinstance(result, Preview)
    out = render.console()
    if not result.items:
        out.print(f"nothing scheduled in the next {result.days} days", markup=False)
        return
    table = render.Grid(
        [Col("when", ESSENTIAL), Col("organization", ESSENTIAL), Col("action", ESSENTIAL), Col("amount", ESSENTIAL)],
        title=f"dunning schedule, next {result.days} days (nothing changed)",
    )
    for p in result.items:
        table.add_row(
            render.when(p.at), p.organization, f"{p.action} (attempt {p.attempt})", render.amount(p.amount, p.currency)
        )
    out.print(table)
    stake = ", ".join(render.amount(v, k) for k, v in sorted(result.at_stake.items())) or "nothing"
    out.print(f"money at stake in retries: {stake}", markup=False)


def _render_retry(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.core.dunning.retry import RetryResult

    assert isinstance(result, RetryResult)
    out = render.console()
    for note in result.notes:
        out.print(f"{result.organization}: {note}", markup=False)
    if result.guard is not None:
        render_guard_result(result.guard, show_sql=False)
    i = result.intent
    if i is not None:
        out.print(
            f"{result.organization}: charge {result.reference} · intent {i.state} · Paystack {i.external_id or '—'} · "
            f"{result.charge_status or '—'}",
            markup=False,
        )
        url = i.params.get("authorization_url")
        if url and result.record is not None and result.record["status"] == "active":
            out.print("paused: the customer must approve the charge at this URL (send it to them):", markup=False)
            out.print(str(url), markup=False, soft_wrap=True, overflow="ignore", crop=False)


def _render_link(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.core.dunning.link import LinkResult

    assert isinstance(result, LinkResult)
    out = render.console()
    for note in result.notes:
        out.print(f"{result.organization}: {note}", markup=False)
    if result.guard is not None:
        render_guard_result(result.guard, show_sql=False)
    money = render.amount(result.amount.subunits, result.amount.currency)
    if result.authorization_url is None:
        if result.outcome == "planned":
            out.print(f"{result.organization}: link {result.reference} for {money} not created (dry run)", markup=False)
        return
    state = {
        "created": "new payment link",
        "open": "open payment link",
        "resumed": "new payment link (the cut-off run's)",
        "paid": "PAID payment link",
    }
    out.print(
        f"{result.organization}: {state.get(result.outcome, result.outcome)} {result.reference} · {money} · "
        f"for {result.email}",
        markup=False,
    )
    out.print(result.authorization_url, markup=False, soft_wrap=True, overflow="ignore", crop=False)
    if result.outcome != "paid":
        out.print("send this URL to the customer; rerun this command to check it (no second link)", markup=False)


def _render_batch(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.core.dunning.batch import BatchResult

    assert isinstance(result, BatchResult)
    out = render.console()
    for o in result.outcomes:
        money = f" ({render.amount(o.amount, o.currency)})" if o.amount is not None and o.currency else ""
        out.print(f"{o.organization}: {o.result} {o.detail}{money}".rstrip(), markup=False)
    planned = [o for o in result.outcomes if o.result == "planned"]
    if planned:
        totals: dict[str, int] = {}
        for o in planned:
            totals[str(o.currency)] = totals.get(str(o.currency), 0) + int(o.amount or 0)
        money = ", ".join(render.amount(v, c) for c, v in sorted(totals.items()))
        out.print(f"dry run: {len(planned)} charge(s) would be sent, {money} at stake; nothing was sent", markup=False)
    if result.refused:
        out.print(f"{len(result.refused)} record(s) refused: see the reasons above", markup=False)
    if result.opened:
        out.print(f"circuit breaker open ({result.why}): no further charge was sent", markup=False)
    if result.resume_command:
        out.print(f"{result.remaining} left; resume with: {result.resume_command}", markup=False)
