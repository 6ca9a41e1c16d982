"""`dunning status / failures / list / preview`: reads only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.dunning.records import OrgDunning, all_records, find_org, load
from proaudit_ops.errors import ExitCode
from proaudit_ops.timeutil import as_utc, utcnow

if TYPE_CHECKING:
    from proaudit_ops.runtime import Runtime


@dataclass(frozen=True)
class Status:
    state: OrgDunning

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FINDING if self.state.open_record is not None else ExitCode.OK


def dunning_status(runtime: Runtime, who: str) -> Status:
    from proaudit_ops.db.engine import read_only

    with read_only(runtime.engine()) as conn:
        return Status(load(conn, find_org(conn, who)))


@dataclass(frozen=True)
class Failure:
    reference: str
    attempt: int | None
    status: str
    gateway_response: str
    amount: int
    currency: str
    when: datetime | None


@dataclass(frozen=True)
class Failures:
    organization: str
    items: list[Failure] = field(default_factory=list)


def dunning_failures(runtime: Runtime, who: str) -> Failures:
    """Failed attempts of the organization's records, as Paystack answered them (verify by reference)."""
    from proaudit_ops.db.engine import read_only
    from proaudit_ops.errors import PaystackNotFound

    with read_only(runtime.engine()) as conn:
        state = load(conn, find_org(conn, who))
    refs: list[tuple[str, int | None]] = []
    for p in state.payments.values():
        refs.append((str(p["reference"]), None))
    refs.extend((str(i.params["reference"]), int(i.params["attempt"])) for i in state.intents)
    client = runtime.paystack()
    items = []
    seen: set[str] = set()
    for ref, attempt in refs:
        if ref in seen:
            continue
        seen.add(ref)
        try:
            tx = client.verify_transaction(ref)
        except PaystackNotFound:
            continue
        if tx.status == "success":
            continue
        when = tx.transaction_date or tx.created_at
        items.append(
            Failure(
                ref, attempt, str(tx.status), str(tx.gateway_response or ""), int(tx.amount), str(tx.currency), when
            )
        )
    return Failures(str(state.org["name"]), items)


@dataclass(frozen=True)
class Listing:
    state: str | None
    records: list[dict[str, Any]]


def dunning_list(runtime: Runtime, state: str | None) -> Listing:
    from proaudit_ops.db.engine import read_only

    with read_only(runtime.engine()) as conn:
        return Listing(state, all_records(conn, state))


@dataclass(frozen=True)
class Planned:
    organization: str
    action: str  # retried | suspended | cancelled
    at: datetime
    attempt: int
    amount: int
    currency: str


@dataclass(frozen=True)
class Preview:
    days: int
    items: list[Planned]

    @property
    def at_stake(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.items:
            if item.action == "retried":
                out[item.currency] = out.get(item.currency, 0) + item.amount
        return out


def dunning_preview(runtime: Runtime, days: int, now: datetime | None = None) -> Preview:
    """What the schedule does within DAYS: a retry at each next_retry_at; after the last attempt's
    retry fails, the subscription is suspended; an exhausted record's subscription is cancelled."""
    from proaudit_ops.db.engine import read_only

    now = now or utcnow()
    horizon = now + timedelta(days=days)
    with read_only(runtime.engine()) as conn:
        records = all_records(conn, None)
    items: list[Planned] = []
    for r in records:
        at = as_utc(r.get("next_retry_at"))
        attempt = int(r["attempt_count"] or 0)
        last = attempt + 1 >= int(r["max_attempts"] or 4)
        money = int(r["amount_kobo"]), str(r["currency"])
        if r["status"] == "active" and at is not None and at <= horizon:
            items.append(Planned(str(r["organization"]), "retried", max(at, now), attempt + 1, *money))
            if last:
                items.append(Planned(str(r["organization"]), "suspended", max(at, now), attempt + 1, *money))
        elif r["status"] == "exhausted":
            items.append(Planned(str(r["organization"]), "cancelled", now, attempt, *money))
    items.sort(key=lambda p: (p.at, p.organization))
    return Preview(days, items)
