"""A plan: the row changes a fix will make, reviewable, hashable, savable and re-appliable.

Every value in a plan is JSON (datetimes as ISO-8601 UTC strings): a plan saved with
`--plan-out` and loaded by `proaudit apply FILE` is equal to the plan that was shown.

`plan_hash` is SHA-256 over the *reviewed* content only (`Plan.reviewed()`: action, reason,
target, and per row table, key, guards, new values, the row as read, touched columns), not
`created_at`: two dry-runs of the same fix have the same hash. Columns set to the time of apply
(`updated_at`) are named in `RowChange.touch`, never a timestamp in the plan.

A saved file (format 2) is authenticated: `plan_mac` is HMAC-SHA256 over the same canonical
reviewed content with the plan key (protocols/plan_auth.py). A file whose hash or MAC does not
match is refused; so is a format-1 file (hashed, not authenticated) from an older proaudit.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from proaudit_ops.audit.canonical import canonical_json, plain_json, sha256_hex
from proaudit_ops.errors import Refused, UsageError
from proaudit_ops.timeutil import as_utc, iso, parse_iso

PLAN_FORMAT = 2
_MAC_CONTEXT = b"proaudit plan v2\n"  # domain separation: this key signs plans and nothing else
NOT_A_PLAN_HINT = "make a plan with --plan-out FILE"


@dataclass(frozen=True)
class RowChange:
    """One row: find it by `key`, require `guards`, set `new_values` (and `touch` columns to the
    time of apply); `before` is the row as read and shown, every column of it checked at apply.

    `insert=True`: a new row (a payment the app never recorded, e.g. a dunning charge): `key` and
    `new_values` are its columns, `before` is empty, and `guards` are the values no existing row
    may have (`{"reference": R}`: refused if a row with that reference exists by then).
    """

    table: str
    key: dict[str, Any]
    guards: dict[str, Any]
    new_values: dict[str, Any]
    before: dict[str, Any]
    label: str
    touch: tuple[str, ...] = ()
    insert: bool = False

    def __post_init__(self) -> None:
        for name in ("key", "guards", "new_values", "before"):
            value = getattr(self, name)
            if not isinstance(value, dict):
                raise TypeError(f"RowChange.{name} must be a dict")
            object.__setattr__(self, name, plain_json(dict(value)))
        if isinstance(self.touch, str) or not all(isinstance(name, str) for name in self.touch):
            raise TypeError("RowChange.touch must be a sequence of column names")
        object.__setattr__(self, "touch", tuple(sorted(set(self.touch))))
        if not self.key:
            raise ValueError(f"RowChange for {self.table} has an empty key")
        if not self.new_values:
            raise ValueError(f"RowChange for {self.table} {self.label} changes nothing")
        clash = sorted(set(self.key) & (set(self.new_values) | set(self.touch)))
        if clash:
            raise ValueError(f"RowChange for {self.table} changes its key column(s) {clash}")
        both = sorted(set(self.new_values) & set(self.touch))
        if both:
            raise ValueError(f"RowChange for {self.table} both sets and touches {both}")
        if not isinstance(self.insert, bool):
            raise TypeError("RowChange.insert must be a boolean")
        if self.insert and self.before:
            raise ValueError(f"RowChange inserting into {self.table} has a row as read: a new row has none")

    @property
    def changed_columns(self) -> list[str]:
        return [*self.new_values, *self.touch]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "table": self.table,
            "key": self.key,
            "guards": self.guards,
            "new_values": self.new_values,
            "touch": list(self.touch),
            "before": self.before,
            "label": self.label,
        }
        if self.insert:  # absent for updates: their plan hashes stay as they were
            out["insert"] = True
        return out

    @classmethod
    def from_dict(cls, data: Any) -> RowChange:
        if not isinstance(data, dict):
            raise TypeError("a change is not a JSON object")
        for name in ("table", "label"):
            if not isinstance(data[name], str):
                raise TypeError(f"change {name} is not a string")
        for name in ("key", "guards", "new_values", "before"):
            if not isinstance(data[name], dict):
                raise TypeError(f"change {name} is not a JSON object")
        touch = data["touch"]
        if not isinstance(touch, list) or not all(isinstance(name, str) for name in touch):
            raise TypeError("change touch is not a list of column names")
        insert = data.get("insert", False)
        if not isinstance(insert, bool):
            raise TypeError("change insert is not a boolean")
        return cls(
            table=data["table"],
            key=data["key"],
            guards=data["guards"],
            new_values=data["new_values"],
            before=data["before"],
            label=data["label"],
            touch=tuple(touch),
            insert=insert,
        )


@dataclass(frozen=True)
class ExternalStep:
    """The side effect a plan makes outside the database (a Paystack refund), run through the
    intent protocol (protocols/intents.py) between review and the row changes.

    `call` is what the operator reviews (method, path, body); `params` is what the intent's kind
    needs to look the effect up again and record it; `fills` names the columns (`table.column`)
    whose planned value is the effect's id, known only after the call.
    """

    kind: str
    op_key: str
    call: dict[str, Any]
    params: dict[str, Any]
    fills: tuple[str, ...] = ()
    needs_approval: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "call", plain_json(dict(self.call)))
        object.__setattr__(self, "params", plain_json(dict(self.params)))
        object.__setattr__(self, "fills", tuple(self.fills))
        if not self.kind or not self.op_key:
            raise ValueError("ExternalStep needs a kind and an op key")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "op_key": self.op_key,
            "call": self.call,
            "params": self.params,
            "fills": list(self.fills),
            "needs_approval": self.needs_approval,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ExternalStep:
        if not isinstance(data, dict):
            raise TypeError("external is not a JSON object")
        for name in ("kind", "op_key"):
            if not isinstance(data[name], str):
                raise TypeError(f"external {name} is not a string")
        for name in ("call", "params"):
            if not isinstance(data[name], dict):
                raise TypeError(f"external {name} is not a JSON object")
        fills = data["fills"]
        if not isinstance(fills, list) or not all(isinstance(f, str) for f in fills):
            raise TypeError("external fills is not a list of column names")
        if not isinstance(data["needs_approval"], bool):
            raise TypeError("external needs_approval is not a boolean")
        return cls(data["kind"], data["op_key"], data["call"], data["params"], tuple(fills), data["needs_approval"])


@dataclass(frozen=True)
class PlanClaims:
    """What a saved file says about itself; checked by `Plan.verify` before anything uses it."""

    plan_hash: str
    plan_mac: str
    expected_rows: int


@dataclass(frozen=True)
class Plan:
    action: str
    reason: str
    changes: tuple[RowChange, ...]
    created_at: datetime
    target: str | None = None  # the reference, or "bulk" for many
    external: ExternalStep | None = None  # a Paystack call made before the rows change (intents.py)

    JSON_EXTRA: ClassVar[tuple[str, ...]] = ("plan_hash", "expected_rows")  # in --json (jsonable.py)

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(self.changes))
        created = as_utc(self.created_at)
        if created is None:
            raise ValueError("Plan.created_at is required")
        object.__setattr__(self, "created_at", created)

    @property
    def expected_rows(self) -> int:
        return len(self.changes)

    def reviewed(self) -> dict[str, Any]:
        """What the operator reviews, and all that the hash and the MAC cover."""
        reviewed: dict[str, Any] = {
            "format": PLAN_FORMAT,
            "action": self.action,
            "reason": self.reason,
            "target": self.target,
            "changes": [change.to_dict() for change in self.changes],
        }
        if self.external is not None:  # absent for row-only plans: their hashes stay as they were
            reviewed["external"] = self.external.to_dict()
        return reviewed

    def to_dict(self) -> dict[str, Any]:
        """The file's content without plan_hash and plan_mac."""
        return {**self.reviewed(), "created_at": iso(self.created_at), "expected_rows": self.expected_rows}

    @property
    def plan_hash(self) -> str:
        return sha256_hex(canonical_json(self.reviewed()))

    def mac(self, key: bytes) -> str:
        if not key:
            raise ValueError("the plan key is empty")
        message = _MAC_CONTEXT + canonical_json(self.reviewed()).encode("utf-8")
        return hmac.new(key, message, hashlib.sha256).hexdigest()

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
                    "touch": list(c.touch),
                    **({"insert": True} if c.insert else {}),
                }
                for c in self.changes
            ],
            **({"external": self.external.to_dict()} if self.external is not None else {}),
        }

    def to_json(self, key: bytes) -> str:
        import json

        body = {**self.to_dict(), "plan_hash": self.plan_hash, "plan_mac": self.mac(key)}
        return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_data(cls, data: Any) -> tuple[Plan, PlanClaims]:
        """The plan a parsed file describes and what the file claims; nothing is checked yet."""
        try:
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            version = data.get("format")
            if version == 1:
                raise UsageError(
                    "plan file format 1 is from an older proaudit and is not authenticated",
                    hint="make a new plan with --plan-out FILE",
                )
            if version != PLAN_FORMAT:
                raise ValueError(f"unknown plan format {version!r}")
            if not isinstance(data["created_at"], str):
                raise TypeError("created_at is not a string")
            created = parse_iso(data["created_at"])
            if created is None:
                raise ValueError("created_at is missing")
            for name in ("action", "reason", "plan_hash", "plan_mac"):
                if not isinstance(data[name], str):
                    raise TypeError(f"{name} is not a string")
            if data["target"] is not None and not isinstance(data["target"], str):
                raise TypeError("target is not a string")
            if not isinstance(data["changes"], list):
                raise TypeError("changes is not a list")
            rows = data["expected_rows"]
            if isinstance(rows, bool) or not isinstance(rows, int):
                raise TypeError("expected_rows is not an integer")
            plan = cls(
                action=data["action"],
                reason=data["reason"],
                changes=tuple(RowChange.from_dict(c) for c in data["changes"]),
                created_at=created,
                target=data["target"],
                external=ExternalStep.from_dict(data["external"]) if data.get("external") is not None else None,
            )
        except UsageError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"not a proaudit plan file: {_why(exc)}", hint=NOT_A_PLAN_HINT) from None
        return plan, PlanClaims(data["plan_hash"], data["plan_mac"], rows)

    def verify(self, claims: PlanClaims, key: bytes) -> None:
        """Refuse a file whose content does not match its hash, or whose MAC is not ours."""
        if not hmac.compare_digest(claims.plan_hash, self.plan_hash) or claims.expected_rows != self.expected_rows:
            raise Refused(
                "the plan file was changed after it was written (its plan_hash does not match)",
                hint="do not edit plan files: make a new plan with --plan-out",
            )
        if not hmac.compare_digest(claims.plan_mac, self.mac(key)):
            raise Refused(
                "the plan file is not authenticated: its plan_mac does not match the plan key "
                "(edited after it was written, or signed with another key)",
                hint="make a new plan with --plan-out; operators who apply each other's plans share proaudit_plan_key",
            )

    @classmethod
    def from_json(cls, text: str, key: bytes) -> Plan:
        """Load a saved plan: refused unless its hash and its MAC match."""
        from proaudit_ops.files import parse_json

        plan, claims = cls.from_data(parse_json(text, "plan file", hint=NOT_A_PLAN_HINT))
        plan.verify(claims, key)
        return plan

    def write(self, path: Path, key: bytes) -> Path:
        """Write the plan file atomically, mode 0600 (the parent folder must exist)."""
        from proaudit_ops.files import check_output_path

        path = check_output_path(path, "--plan-out")
        body = self.to_json(key).encode("utf-8")
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.unlink(missing_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            try:
                os.fchmod(fd, 0o600)
                os.write(fd, body)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise UsageError(f"cannot write the plan file {path}: {exc.strerror}") from None
        return path

    @classmethod
    def read_data(cls, path: Path) -> Any:
        """A plan file's parsed JSON: a regular file, at most MAX_PLAN_BYTES, bounded nesting."""
        from proaudit_ops.files import MAX_PLAN_BYTES, parse_json, read_text_file

        text = read_text_file(path, "plan file", max_bytes=MAX_PLAN_BYTES, hint=NOT_A_PLAN_HINT)
        return parse_json(text, "plan file", hint=NOT_A_PLAN_HINT)

    @classmethod
    def load(cls, path: Path, key: bytes) -> Plan:
        plan, claims = cls.from_data(cls.read_data(path))
        plan.verify(claims, key)
        return plan


def _why(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"{exc.args[0]!r} is missing"
    return str(exc)
