"""The active drill (a file in the sandbox home) and the `drill.step` record of each command run during it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proaudit_ops.timeutil import parse_iso

if TYPE_CHECKING:
    from proaudit_ops.runtime import Runtime

STEP_ACTION = "drill.step"
START_ACTION = "drill.start"


@dataclass(frozen=True)
class ActiveDrill:
    name: str
    started_at: datetime
    start_seq: int


def drill_file(runtime: Runtime) -> Path:
    return runtime.settings.sandbox_db_path().parent / "drill.json"


def active_drill(runtime: Runtime) -> ActiveDrill | None:
    """The drill in progress in this sandbox, or None (also for a file this version cannot read)."""
    if not runtime.is_sandbox:
        return None
    try:
        data = json.loads(drill_file(runtime).read_text(encoding="utf-8"))
        started = parse_iso(str(data["started_at"]))
        if started is None:
            return None
        return ActiveDrill(str(data["name"]), started, int(data["start_seq"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_active(runtime: Runtime, drill: ActiveDrill) -> None:
    path = drill_file(runtime)
    tmp = path.with_suffix(".tmp")
    body = {"name": drill.name, "started_at": drill.started_at.isoformat(), "start_seq": drill.start_seq}
    tmp.write_text(json.dumps(body), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a reader sees the old drill or the new one


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def note_step(runtime: Runtime, command: str, params: dict[str, Any], exit_code: int) -> None:
    """Record one command of the operator's drill session (sandbox only, only while a drill is active).

    Never fails the command it records: a drill note that cannot be written is skipped.
    """
    if command.startswith("drill") or active_drill(runtime) is None:
        return
    from proaudit_ops.audit import AuditEntry

    outcome = "applied" if exit_code in (0, 1) else "refused" if exit_code == 4 else "failed"
    entry = AuditEntry(
        action=STEP_ACTION,
        target=command,
        outcome=outcome,
        after={"exit": exit_code, "params": {k: _plain(v) for k, v in sorted(params.items())}},
    )
    try:
        runtime.audit_log().append_standalone(runtime.engine(), entry)
    except Exception:  # the practice record must never break the practised command
        return
