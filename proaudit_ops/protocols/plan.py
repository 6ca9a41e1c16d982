"""A plan: the row changes a fix will make, reviewable, hashable, savable and re-appliable.

Every value in a plan is JSON (datetimes as ISO-8601 UTC strings): a plan saved with
`--plan-out` and loaded by `proaudit apply FILE` is equal to the plan that was shown. The file
embeds `plan_hash` (SHA-256 over the canonical plan); a file whose content no longer matches
it was edited by hand and is refused.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from proaudit_ops.audit.canonical import canonical_json, plain_json, sha256_hex
from proaudit_ops.errors import Refused, UsageError
from proaudit_ops.timeutil import as_utc, iso, parse_iso

PLAN_FORMAT = 1


@dataclass(frozen=True)
class RowChange:
    """One row: find it by `key`, require `guards`, set `new_values`; `before` as read."""

    table: str
    key: dict[str, Any]
    guards: dict[str, Any]
    new_values: dict[str, Any]
    before: dict[str, Any]
    label: str

    def __post_init__(self) -> None:
        for name in ("key", "guards", "new_values", "before"):
            value = getattr(self, name)
            if not isinstance(value, dict):
                raise TypeError(f"RowChange.{name} must be a dict")
            object.__setattr__(self, name, plain_json(dict(value)))
        if not self.key:
            raise ValueError(f"RowChange for {self.table} has an empty key")
        if not self.new_values:
            raise ValueError(f"RowChange for {self.table} {self.label} changes nothing")
        clash = sorted(set(self.key) & set(self.new_values))
        if clash:
            raise ValueError(f"RowChange for {self.table} changes its key column(s) {clash}")

    @property
    def changed_columns(self) -> list[str]:
        return list(self.new_values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "key": self.key,
            "guards": self.guards,
            "new_values": self.new_values,
            "before": self.before,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RowChange:
        return cls(
            table=str(data["table"]),
            key=dict(data["key"]),
            guards=dict(data["guards"]),
            new_values=dict(data["new_values"]),
            before=dict(data["before"]),
            label=str(data["label"]),
        )


@dataclass(frozen=True)
class Plan:
    action: str
    reason: str
    changes: tuple[RowChange, ...]
    created_at: datetime
    target: str | None = None  # the reference, or "bulk" for many

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(self.changes))
        created = as_utc(self.created_at)
        if created is None:
            raise ValueError("Plan.created_at is required")
        object.__setattr__(self, "created_at", created)

    @property
    def expected_rows(self) -> int:
        return len(self.changes)

    def to_dict(self) -> dict[str, Any]:
        """The hashed content (without plan_hash)."""
        return {
            "format": PLAN_FORMAT,
            "action": self.action,
            "reason": self.reason,
            "target": self.target,
            "created_at": iso(self.created_at),
            "expected_rows": self.expected_rows,
            "changes": [change.to_dict() for change in self.changes],
        }

    @property
    def plan_hash(self) -> str:
        return sha256_hex(canonical_json(self.to_dict()))

    def summary(self) -> dict[str, Any]:
        """What the audit log keeps of a plan (the rows as read stay out: `applied` has them)."""
        return {
            "plan_hash": self.plan_hash,
            "action": self.action,
            "reason": self.reason,
            "target": self.target,
            "created_at": iso(self.created_at),
            "expected_rows": self.expected_rows,
            "changes": [
                {
                    "table": c.table,
                    "key": c.key,
                    "label": c.label,
                    "guards": c.guards,
                    "new_values": c.new_values,
                }
                for c in self.changes
            ],
        }

    def to_json(self) -> str:
        body = {**self.to_dict(), "plan_hash": self.plan_hash}
        return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """Load a saved plan; a plan whose content does not match its plan_hash is refused."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            if data.get("format") != PLAN_FORMAT:
                raise ValueError(f"unknown plan format {data.get('format')!r}")
            claimed = data["plan_hash"]
            created = parse_iso(data["created_at"])
            if created is None:
                raise ValueError("created_at is missing")
            plan = cls(
                action=str(data["action"]),
                reason=str(data["reason"]),
                changes=tuple(RowChange.from_dict(c) for c in data["changes"]),
                created_at=created,
                target=data["target"],
            )
            declared_rows = data["expected_rows"]
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(
                f"not a proaudit plan file: {exc}",
                hint="make a plan with --plan-out FILE",
            ) from None
        if claimed != plan.plan_hash or declared_rows != plan.expected_rows:
            raise Refused(
                "the plan file was changed after it was written (its plan_hash does not match)",
                hint="do not edit plan files: make a new plan with --plan-out",
            )
        return plan

    def write(self, path: Path) -> Path:
        """Write the plan file atomically, mode 0600."""
        path = Path(path).expanduser()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                os.fchmod(fd, 0o600)
                os.write(fd, self.to_json().encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise UsageError(f"cannot write the plan file {path}: {exc.strerror}") from None
        return path

    @classmethod
    def load(cls, path: Path) -> Plan:
        try:
            text = Path(path).expanduser().read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"plan file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the plan file {path}: {exc}") from None
        return cls.from_json(text)
