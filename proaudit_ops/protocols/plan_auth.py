"""Saved plans are authenticated: the key that signs them, and their `planned` audit record.

The key is `proaudit_plan_key` from the settings (shared by operators who apply each other's
plans) or, when unset, `plan.key` in the tool's home: 32 random bytes (hex), generated on first
use, mode 0600, created atomically (a private temp file made with O_EXCL, hard-linked into place,
so a concurrent first use sees either no file or the whole key). A key file that is not a regular
file of ours, or that group or others can read, is refused. The key never appears in output.

`proaudit apply FILE` also requires that the plan's hash has a `planned` audit record: a plan
the guard never showed (and recorded) is not applied, whatever its MAC.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from proaudit_ops.errors import ConfigError, Refused

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from proaudit_ops.config import Settings
    from proaudit_ops.protocols.plan import Plan

KEY_FILE = "plan.key"


def settings_plan_key(settings: Settings) -> bytes:
    """The configured key, or the home's key file (created on first use)."""
    configured = settings.proaudit_plan_key
    if configured is not None:
        value = configured.get_secret_value().strip()
        if len(value) < 16:
            raise ConfigError("proaudit_plan_key is too short (at least 16 characters)")
        return value.encode("utf-8")
    return home_plan_key(settings.home())


def home_plan_key(home: Path) -> bytes:
    """The home's plan key, generated on first use (proaudit_ops/keyfiles.py)."""
    from proaudit_ops.keyfiles import home_key

    return home_key(Path(home) / KEY_FILE, "plan key")


def require_planned_record(engine: Engine, plan: Plan) -> None:
    """Refuse a plan whose hash has no `planned` audit record (it was never shown and recorded)."""
    from sqlalchemy import select

    from proaudit_ops.audit.records import AuditRecord
    from proaudit_ops.db.engine import read_only
    from proaudit_ops.db.schema import ops_audit_log as T

    digest = plan.plan_hash
    stmt = (
        select(T)
        .where(T.c.outcome == "planned", T.c.action == plan.action)
        .where(T.c.after.contains(f'"plan_hash":"{digest}"'))  # canonical JSON: no spaces
        .order_by(T.c.seq.desc())
        .limit(20)
    )
    with read_only(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
    for row in rows:
        after = AuditRecord.from_row(row).after
        if isinstance(after, dict) and after.get("plan_hash") == digest:
            return
    raise Refused(
        f"the plan {digest[:12]} has no `planned` audit record: it was not made by proaudit's change guard here",
        hint="make the plan with --plan-out against this database (if its record went to the audit "
        "fallback file while the database was down, run `proaudit audit ship` first)",
    )
