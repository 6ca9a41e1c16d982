"""`dunning link ORG [--email]`: a Paystack checkout link for the amount the active dunning record owes.

The runbook's "Manual Payment Link". POST /transaction/initialize through an intent row (the
`link` kind, core/dunning/link_kind.py) with a reference derived from the subscription and the
period (`LNK-<subscription>-<period end>`, `-2`, `-3` ... only after a link was lost), so:

- a second call while the link is open asks Paystack about it (GET verify) and prints the same
  link: no second POST; once it is paid, it says so and makes no new link;
- a run cut off after the POST (a crash, a lost answer) is resolved by verifying the reference
  before anything else; an outcome that cannot be determined exits 5;
- the plan (shown, --dry-run, confirmation or --yes, audited) stops automatic retries of the
  record while the link is open (a charge and a paid link would take the money twice) and adds a
  pending payment row under the link's reference (the failed payment stays as it was), as the
  app's checkout does, so its charge.success handler settles and entitles it (the metadata says
  organization, tier and billing cycle).

Refused (exit 4): maintenance mode on (unless --force), no active dunning record, no subscription.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.dunning.records import OrgDunning, find_org, load
from proaudit_ops.errors import ExitCode, Refused
from proaudit_ops.money import Money
from proaudit_ops.timeutil import as_utc, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from proaudit_ops.protocols.guard import ApplyOptions, ChangeGuard, GuardResult
    from proaudit_ops.protocols.intents import Intent
    from proaudit_ops.protocols.plan import Plan
    from proaudit_ops.runtime import Runtime

ACTION = "dunning.link"
MAX_EMAIL = 254  # RFC 5321's path limit
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")


def check_email(text: str) -> str:
    """A billing email for --email: trimmed, at most 254 characters, one plain address (ValueError)."""
    value = text.strip()
    if not value:
        raise ValueError("is empty")
    if len(value) > MAX_EMAIL:
        raise ValueError(f"is {len(value)} characters long (at most {MAX_EMAIL})")
    if not _EMAIL.fullmatch(value):
        raise ValueError(f"{value[:60]!r} is not an email address (name@example.com)")
    return value


@dataclass(frozen=True)
class LinkResult:
    organization: str
    reference: str
    op_key: str
    outcome: str  # created | open (the same link, nothing sent) | resumed (a cut-off run's) | paid | planned | aborted
    amount: Money
    email: str
    authorization_url: str | None = None
    guard: GuardResult | None = None
    intent: Intent | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.REFUSED if self.outcome == "aborted" else ExitCode.OK


def link_reference(sku_id: str, period_end: datetime | None, generation: int) -> str:
    """`LNK-<subscription>-<period end>` (like the charge's DUN- reference, never equal to one)."""
    period = period_end.strftime("%Y%m%d") if period_end is not None else "none"
    base = f"LNK-{sku_id.replace('-', '')[:12]}-{period}"
    return base if generation <= 1 else f"{base}-{generation}"


def link_org(
    runtime: Runtime,
    who: str,
    email: str | None,
    options: ApplyOptions,
    confirm: Callable[[Plan], bool],
    *,
    force: bool = False,
    now: datetime | None = None,
) -> LinkResult:
    from proaudit_ops.core.recovery.maintenance import maintenance_on
    from proaudit_ops.db.engine import read_only
    from proaudit_ops.protocols.intents import OPEN_STATES, intents_for, resume

    now = now or utcnow()
    guard = runtime.guard()
    if not force and maintenance_on(runtime):
        message = "maintenance mode is on: no payment link is created"
        guard.record_refusal(ACTION, message, {"target": who})
        raise Refused(message, hint="wait for `proaudit recovery maintenance off`, or pass --force if this one must go")
    with read_only(runtime.engine()) as conn:
        state = load(conn, find_org(conn, who))
    name = str(state.org["name"])
    record = state.open_record
    if record is None:
        done = [r for r in state.records if r["status"] != "active"]
        what = f" (latest: {done[-1]['status']})" if done else ""
        message = f"{name} has no active dunning record{what}: no payment link to make"
        guard.record_refusal(ACTION, message, {"target": name})
        raise Refused(message, hint=f"proaudit dunning status {who!r}")
    if state.sku is None:
        raise Refused(f"{name} has no subscription row: the link could not be entitled")
    target = str(record["id"])
    amount = Money(int(record["amount_kobo"]), str(record["currency"]))
    notes: list[str] = []
    with read_only(runtime.engine()) as conn:
        links = intents_for(conn, target, "link")
    open_ = [i for i in links if i.state in OPEN_STATES]
    if open_:  # an earlier run was cut off: ask Paystack about its reference first, never a new link
        if options.dry_run or options.plan_out is not None:
            raise Refused(f"intent {open_[0].op_key} is {open_[0].state}", hint=f"proaudit dunning link {who!r} --yes")
        resume(guard, open_[0].op_key)
        notes.append(f"an earlier run was cut off ({open_[0].state}): verified its reference at Paystack first")
        with read_only(runtime.engine()) as conn:
            links = intents_for(conn, target, "link")
    paused = _paused_charge(runtime, state, target)
    if paused is not None:
        message = (
            f"{name}: charge {paused.params['reference']} is paused at Paystack for the customer's 2FA approval; "
            "a payment link as well could take the money twice"
        )
        guard.record_refusal(ACTION, message, {"target": name})
        raise Refused(message, hint=f"send the customer its URL instead: {paused.params['authorization_url']}")
    done_links = [i for i in links if i.state == "done"]
    latest = done_links[-1] if done_links else None
    if latest is not None and latest.params.get("authorization_url"):
        found = _existing(runtime, name, latest, amount, email, notes, resumed=bool(open_))
        if found.outcome != "paid":
            return found
        closed = guard.execute(
            lambda conn: close_plan(guard, conn, record, latest, now), options, confirm, action=ACTION
        )
        return replace(found, guard=closed, outcome="aborted" if closed.outcome == "aborted" else "paid")
    if latest is not None:
        notes.append(
            f"the link {latest.params['reference']} exists at Paystack but its URL never arrived "
            "(nobody saw it, nobody can pay it): a new reference is used"
        )
    reference = link_reference(str(state.sku["id"]), as_utc(state.sku.get("current_period_end")), len(done_links) + 1)
    send_to = email or str(state.org["email"])
    params = link_params(state, record, reference, send_to)
    op_key = f"link:{reference}"

    def build(conn: Connection) -> Plan:
        return build_plan(guard, conn, record, params, op_key, now)

    result = guard.execute(build, options, confirm, action=ACTION)
    from proaudit_ops.protocols.intents import get_intent

    with read_only(runtime.engine()) as conn:
        intent = get_intent(conn, op_key)
    url = str(intent.params["authorization_url"]) if intent is not None and intent.state == "done" else None
    outcome = "created" if result.outcome == "applied" else result.outcome
    return LinkResult(name, reference, op_key, outcome, amount, send_to, url, result, intent, notes)


def _paused_charge(runtime: Runtime, state: OrgDunning, target: str) -> Intent | None:
    """The record's charge paused for 2FA that the customer can still approve (ongoing at Paystack)."""
    from proaudit_ops.errors import PaystackNotFound

    paused = [i for i in state.intents if i.target == target and i.params.get("authorization_url")]
    if not paused:
        return None
    try:
        tx = runtime.paystack().verify_transaction(str(paused[-1].params["reference"]))
    except PaystackNotFound:
        return None
    return paused[-1] if tx.status in ("ongoing", "pending", "paused") else None


def link_params(state: OrgDunning, record: dict[str, Any], reference: str, email: str) -> dict[str, Any]:
    assert state.sku is not None
    org_id = str(state.org["id"])
    return {
        "target": str(record["id"]),
        "reference": reference,
        "organization_id": org_id,
        "email": email,
        "amount": int(record["amount_kobo"]),
        "currency": str(record["currency"]),
        # what the app's checkout sends (core/entitlement.py): its charge.success handler entitles by it
        "metadata": {
            "organization_id": org_id,
            "tier": str(state.sku["tier"]),
            "billing_cycle": str(state.sku["billing_cycle"]),
            "dunning_record": str(record["id"]),
        },
    }


def _existing(
    runtime: Runtime, name: str, intent: Intent, amount: Money, email: str | None, notes: list[str], *, resumed: bool
) -> LinkResult:
    """The link already made for this record: the same one while unpaid (a GET, never a POST)."""
    from proaudit_ops.errors import PaystackNotFound

    reference = str(intent.params["reference"])
    sent_to = str(intent.params["email"])
    url = str(intent.params["authorization_url"])
    outcome = "open"
    try:
        tx = runtime.paystack().verify_transaction(reference)
        if tx.status == "success":
            outcome = "paid"
            notes.append(
                f"the customer paid it at Paystack ({reference}): no new link; the dunning record is recovered "
                f"(check the payment: proaudit payments verify {reference})"
            )
    except PaystackNotFound:
        notes.append(f"Paystack does not know {reference} any more: check it with `proaudit payments verify`")
    if outcome == "open" and resumed:
        outcome = "resumed"  # the cut-off run's link, found at Paystack: this is its first showing
    elif outcome == "open":
        notes.append(f"the link made earlier for {sent_to} is still open: the same link, nothing sent to Paystack")
        if email is not None and email.lower() != sent_to.lower():
            notes.append(f"--email {email} ignored: one open link per period (it names {sent_to})")
    return LinkResult(name, reference, intent.op_key, outcome, amount, sent_to, url, None, intent, notes)


def close_plan(guard: ChangeGuard, conn: Connection, seen: dict[str, Any], link: Intent, now: datetime) -> Plan:
    """The link was paid: the dunning record is recovered (the payment row is the app's webhook's)."""
    from proaudit_ops.core.dunning.kind import dunning_change
    from proaudit_ops.core.dunning.link_kind import TOUCH
    from proaudit_ops.db.schema import dunning_records as d
    from proaudit_ops.protocols.plan import Plan

    row = guard.lock_rows(conn, d, d.c.id == str(seen["id"]), expect=1)[0]
    changes = () if row["status"] != "active" else (dunning_change(row, {"status": "recovered"}, TOUCH),)
    return Plan(
        action=ACTION,
        reason=f"payment link {link.params['reference']} paid: dunning record {seen['id']} recovered",
        changes=changes,
        created_at=now,
        target=str(link.params["reference"]),
    )


def build_plan(
    guard: ChangeGuard, conn: Connection, seen: dict[str, Any], params: dict[str, Any], op_key: str, now: datetime
) -> Plan:
    from proaudit_ops.core.dunning.link_kind import link_changes
    from proaudit_ops.db.schema import dunning_records as d
    from proaudit_ops.protocols.plan import ExternalStep, Plan

    row = guard.lock_rows(conn, d, d.c.id == str(seen["id"]), expect=1)[0]
    if row["status"] != "active":
        raise Refused("the dunning record changed while it was being checked", hint="run it again")
    body = {k: params[k] for k in ("email", "amount", "currency", "reference", "metadata")}
    step = ExternalStep(
        kind="link",
        op_key=op_key,
        call={"method": "POST", "path": "/transaction/initialize", "body": body},
        params=params,
    )
    return Plan(
        action=ACTION,
        reason=f"payment link for dunning record {params['target']} of {params['organization_id']}",
        changes=tuple(link_changes(guard, conn, params)),
        created_at=now,
        target=str(params["reference"]),
        external=step,
    )
