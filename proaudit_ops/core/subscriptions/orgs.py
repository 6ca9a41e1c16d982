"""ORG as operators type it: the organization's UUID, its exact name, or a payment reference of it."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from proaudit_ops.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from sqlalchemy import Connection

MAX_ORG_CHARS = 200  # organizations.name is String(200)
_REFERENCE_RE = re.compile(r"[A-Za-z0-9\-_.=]{1,100}")
SHOW_CANDIDATES = 5


def resolve_organization(conn: Connection, text: str) -> dict[str, Any]:
    """The organizations row ORG names; NotFoundError (exit 2) or UsageError when ambiguous (exit 2)."""
    from sqlalchemy import select

    from proaudit_ops.db.schema import organizations as orgs
    from proaudit_ops.db.schema import payment_transactions as pt

    key = text.strip()
    if not key or len(key) > MAX_ORG_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise UsageError(
            f"not an organization: {text[:40]!r}",
            hint="pass the organization's UUID, its exact name, or one of its payment references",
        )
    as_uuid = _as_uuid(key)
    if as_uuid is not None:
        row = conn.execute(select(orgs).where(orgs.c.id == as_uuid)).mappings().first()
        if row is None:
            raise NotFoundError(f"no organization with id {as_uuid}", hint="proaudit subscriptions list")
        return dict(row)
    named = conn.execute(select(orgs).where(orgs.c.name == key).order_by(orgs.c.id)).mappings().all()
    if len(named) == 1:
        return dict(named[0])
    if len(named) > 1:
        shown = ", ".join(str(r["id"]) for r in named[:SHOW_CANDIDATES])
        more = f" and {len(named) - SHOW_CANDIDATES} more" if len(named) > SHOW_CANDIDATES else ""
        raise UsageError(
            f"{len(named)} organizations are named {key!r}: {shown}{more}",
            hint="pass the UUID of the one you mean",
        )
    if _REFERENCE_RE.fullmatch(key):
        org_id = conn.execute(select(pt.c.organization_id).where(pt.c.reference == key)).scalar()
        if org_id is not None:
            row = conn.execute(select(orgs).where(orgs.c.id == org_id)).mappings().one()
            return dict(row)
    raise NotFoundError(
        f"no organization with the id, name or payment reference {key!r}",
        hint="names must match exactly; proaudit subscriptions list shows them",
    )


def _as_uuid(text: str) -> str | None:
    if len(text) != 36 or text.count("-") != 4:
        return None  # only the canonical dashed form: a name such as "1234" is never taken for a UUID
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None
