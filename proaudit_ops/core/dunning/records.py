"""Reading dunning records: the organization, its subscription, its records and their charges."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, or_, select

from proaudit_ops.errors import NotFoundError

if TYPE_CHECKING:
    from proaudit_ops.protocols.intents import Intent

REGULATED = "charge attempt cannot be fulfilled"  # Paystack's card regulation (reference section 4)
INSUFFICIENT = "insufficient funds"
REGULATED_WAIT_HOURS = 24


def is_regulated(reason: str | None) -> bool:
    return reason is not None and REGULATED in reason.lower()


def is_insufficient(reason: str | None) -> bool:
    return reason is not None and INSUFFICIENT in reason.lower()


@dataclass(frozen=True)
class OrgDunning:
    org: dict[str, Any]
    sku: dict[str, Any] | None
    records: list[dict[str, Any]]
    payments: dict[str, dict[str, Any]]  # payment id -> row
    intents: list[Intent] = field(default_factory=list)  # the charges (dunning retry)
    links: list[Intent] = field(default_factory=list)  # the payment links (dunning link)

    @property
    def open_record(self) -> dict[str, Any] | None:
        """The active record (the one a retry works on), newest first."""
        active = [r for r in self.records if r["status"] == "active"]
        return active[-1] if active else None

    @property
    def at_stake(self) -> int:
        return sum(int(r["amount_kobo"]) for r in self.records if r["status"] == "active")


def find_org(conn: Connection, who: str) -> dict[str, Any]:
    """An organization by UUID, exact name, email, or a unique case-insensitive name fragment."""
    from proaudit_ops.db.schema import organizations as o

    text = who.strip()
    if not text:
        raise NotFoundError("no organization given")
    rows = [dict(r) for r in conn.execute(select(o).where(or_(o.c.name == text, o.c.email == text))).mappings()]
    if not rows and len(text) == 36:
        rows = [dict(r) for r in conn.execute(select(o).where(o.c.id == text)).mappings()]
    if not rows:
        like = f"%{text.lower()}%"
        rows = [dict(r) for r in conn.execute(select(o).where(o.c.name.ilike(like))).mappings()]
    if len(rows) != 1:
        names = ", ".join(sorted(str(r["name"]) for r in rows)[:5])
        raise NotFoundError(
            f"{len(rows)} organizations match {text!r}" + (f": {names}" if names else ""),
            hint="name it exactly, or give its UUID: proaudit dunning list",
        )
    return rows[0]


def load(conn: Connection, org: dict[str, Any]) -> OrgDunning:
    from proaudit_ops.db.schema import dunning_records as d
    from proaudit_ops.db.schema import payment_transactions as pt
    from proaudit_ops.db.schema import tenant_skus as ts
    from proaudit_ops.protocols.intents import intents_for

    oid = str(org["id"])
    sku_row = conn.execute(select(ts).where(ts.c.organization_id == oid)).mappings().first()
    records = [
        dict(r)
        for r in conn.execute(select(d).where(d.c.organization_id == oid).order_by(d.c.created_at, d.c.id)).mappings()
    ]
    ids = [str(r["payment_transaction_id"]) for r in records if r["payment_transaction_id"] is not None]
    payments = (
        {str(r["id"]): dict(r) for r in conn.execute(select(pt).where(pt.c.id.in_(ids))).mappings()} if ids else {}
    )
    intents: list[Intent] = []
    links: list[Intent] = []
    for r in records:
        intents.extend(intents_for(conn, str(r["id"]), "charge"))
        links.extend(intents_for(conn, str(r["id"]), "link"))
    return OrgDunning(org, dict(sku_row) if sku_row is not None else None, records, payments, intents, links)


def all_records(conn: Connection, state: str | None = None) -> list[dict[str, Any]]:
    from proaudit_ops.db.schema import dunning_records as d
    from proaudit_ops.db.schema import organizations as o

    stmt = (
        select(d, o.c.name.label("organization"))
        .join(o, o.c.id == d.c.organization_id)
        .order_by(d.c.next_retry_at.is_(None), d.c.next_retry_at, d.c.id)
    )
    if state is not None:
        stmt = stmt.where(d.c.status == state)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def due(record: dict[str, Any], now: datetime) -> bool:
    from proaudit_ops.timeutil import as_utc

    at = as_utc(record.get("next_retry_at"))
    return record["status"] == "active" and at is not None and at <= now
