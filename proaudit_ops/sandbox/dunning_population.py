"""Synthetic organizations in dunning, copied from the seeded Sahel Agro Cooperative: for the
`retry-all` bench (bench/retry_all.py) and the reliability proof (tests/dunning).

Each copy gets Sahel's subscription, a successful payment whose transaction at the simulator
holds a reusable card of its own (charges succeed), a failed payment, and an active dunning
record due at `due_at`. The billing rows go to `billing`, the simulator's rows to `sim` (the
same sandbox file, or PostgreSQL beside a served simulator's file).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select

TEMPLATE_ORG = "Sahel Agro Cooperative"


@dataclass(frozen=True)
class DueOrg:
    organization_id: str
    name: str
    record_id: str
    paid_reference: str  # the successful payment holding the card at the simulator


def _copy(conn: Connection, table: Table, where: Any, **changes: Any) -> dict[str, Any]:
    row = dict(conn.execute(select(table).where(where)).mappings().one())
    row.update(changes)
    conn.execute(table.insert().values(**row))
    return row


def add_due_dunning(
    billing: Engine, sim: Engine, count: int, *, due_at: datetime, label: str = "Bench"
) -> list[DueOrg]:
    """`count` organizations `"{label} Org 0000"`... with an active dunning record due at `due_at`."""
    with billing.begin() as conn:
        if billing.url == sim.url:  # the sandbox file holds both: one connection (one SQLite writer)
            return _add(conn, conn, count, due_at, label)
        with sim.begin() as sconn:
            return _add(conn, sconn, count, due_at, label)


def _add(conn: Connection, sconn: Connection, count: int, due_at: datetime, label: str) -> list[DueOrg]:
    from proaudit_ops.db.schema import dunning_records as d
    from proaudit_ops.db.schema import organizations as o
    from proaudit_ops.db.schema import payment_transactions as pt
    from proaudit_ops.db.schema import tenant_skus as ts
    from proaudit_ops.sandbox.state import FIRST_TRANSACTION_ID, sim_authorizations, sim_transactions

    tag = label.upper().replace(" ", "")
    made: list[DueOrg] = []
    org = conn.execute(select(o.c.id, o.c.email).where(o.c.name == TEMPLATE_ORG)).one()
    ok = conn.execute(
        select(pt.c.id, pt.c.reference)
        .where(pt.c.organization_id == org.id, pt.c.status == "success")
        .order_by(pt.c.created_at.desc())
        .limit(1)
    ).one()
    dun = conn.execute(
        select(d.c.id, d.c.payment_transaction_id).where(d.c.organization_id == org.id, d.c.status == "active")
    ).one()
    auth = sconn.execute(
        select(sim_authorizations.c.authorization_code).where(sim_authorizations.c.email == org.email)
    ).scalar_one()
    template_tx = sconn.execute(select(sim_transactions).where(sim_transactions.c.reference == ok.reference)).one()
    sim_id = max(FIRST_TRANSACTION_ID, int(sconn.execute(select(func.max(sim_transactions.c.id))).scalar() or 0))
    for i in range(count):
        oid, email, name = str(uuid.uuid4()), f"{tag.lower()}{i}@example.ng", f"{label} Org {i:04d}"
        _copy(conn, o, o.c.id == org.id, id=oid, name=name, email=email)
        _copy(conn, ts, ts.c.organization_id == org.id, id=str(uuid.uuid4()), organization_id=oid)
        ref = f"{tag}-OK-{i:04d}"
        _copy(conn, pt, pt.c.id == ok.id, id=str(uuid.uuid4()), organization_id=oid, reference=ref)
        failed = str(uuid.uuid4())
        _copy(
            conn,
            pt,
            pt.c.id == dun.payment_transaction_id,
            id=failed,
            organization_id=oid,
            reference=f"{tag}-FAIL-{i:04d}",
        )
        record = str(uuid.uuid4())
        _copy(
            conn,
            d,
            d.c.id == dun.id,
            id=record,
            organization_id=oid,
            payment_transaction_id=failed,
            next_retry_at=due_at,
        )
        code = f"AUTH_{tag.lower()}{i:05d}"
        _copy(
            sconn,
            sim_authorizations,
            sim_authorizations.c.authorization_code == auth,
            authorization_code=code,
            email=email,
        )
        sim_id += 1
        _copy(
            sconn,
            sim_transactions,
            sim_transactions.c.reference == ok.reference,
            id=sim_id,
            reference=ref,
            customer_email=email,
            authorization=str(template_tx.authorization).replace(auth, code),
        )
        made.append(DueOrg(oid, name, record, ref))
    return made
