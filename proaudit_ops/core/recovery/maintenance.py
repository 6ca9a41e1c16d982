"""Maintenance mode: the runbook's Redis keys, always with a time to live, audited.

`on` sets `maintenance_mode` = "true" and `maintenance_message`, and saves what they held
before under `proaudit:maintenance:previous`, all three with the same TTL in one atomic swap:
a crash right after it leaves keys that clear by themselves, never a flag without expiry.
`off` puts back what was there before `on` (with what is left of its TTL), or deletes the keys
when nothing was saved. Both go through the approval gate: this changes production.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from proaudit_ops.crashpoints import crash_point
from proaudit_ops.errors import ExitCode, Refused, UsageError

if TYPE_CHECKING:
    from proaudit_ops.kv.store import Change, Entry
    from proaudit_ops.protocols.approval import Confirm
    from proaudit_ops.protocols.guard import ApplyOptions
    from proaudit_ops.runtime import Runtime

MODE_KEY = "maintenance_mode"  # the runbook's names and value
MESSAGE_KEY = "maintenance_message"
ON_VALUE = "true"
PREVIOUS_KEY = "proaudit:maintenance:previous"
KEYS = (MODE_KEY, MESSAGE_KEY, PREVIOUS_KEY)
MIN_TTL = timedelta(minutes=1)
MAX_TTL = timedelta(hours=24)
MAX_MESSAGE_CHARS = 500
ACTION_ON, ACTION_OFF = "recovery.maintenance.on", "recovery.maintenance.off"
_SWAP_ATTEMPTS = 5


@dataclass(frozen=True)
class KeyState:
    key: str
    value: str | None
    ttl_s: float | None  # None: no expiry (or no key)


@dataclass(frozen=True)
class MaintenanceState:
    store: str
    on: bool
    keys: list[KeyState]
    outcome: str = "status"  # status | applied | planned | aborted | nothing
    action: str | None = None
    before: list[KeyState] = field(default_factory=list)
    audit_seq: int | None = None
    plan: str = ""  # what a dry run (or a declined confirmation) would have done

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.REFUSED if self.outcome == "aborted" else ExitCode.OK


def check_message(message: str) -> str:
    text = message.strip()
    if not text or len(text) > MAX_MESSAGE_CHARS or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise UsageError(
            f"--message must be one line of 1 to {MAX_MESSAGE_CHARS} printable characters",
            hint='e.g. --message "Billing system maintenance in progress"',
        )
    return text


def _states(entries: dict[str, Entry]) -> list[KeyState]:
    out = []
    for key in KEYS:
        ttl_ms = entries[key].ttl_ms
        out.append(KeyState(key, entries[key].value, None if ttl_ms is None else ttl_ms / 1000))
    return out


def _is_on(entries: dict[str, Entry]) -> bool:
    # The app may read any truthy spelling; proaudit writes the runbook's "true".
    return (entries[MODE_KEY].value or "").strip().lower() in ("true", "1", "yes", "on")


def maintenance_on(runtime: Runtime) -> bool:
    """Is maintenance mode on? (For commands that must not run during maintenance, e.g. dunning retry.)

    Raises RedisUnavailable (exit 3) when Redis does not answer and ConfigError when no Redis is
    configured outside the sandbox: a caller moving money must not guess.
    """
    return _is_on(runtime.kv().read([MODE_KEY]))


def status(runtime: Runtime) -> MaintenanceState:
    store = runtime.kv()
    entries = store.read(KEYS)
    return MaintenanceState(store.label, _is_on(entries), _states(entries))


def _entry_json(entry: Entry, now_ms: int) -> dict[str, Any]:
    # The absolute expiry (store clock), so `off` restores only what is left of the TTL.
    return {"value": entry.value, "expires_ms": None if entry.ttl_ms is None else now_ms + entry.ttl_ms}


def _restore(saved: dict[str, Any], now_ms: int) -> Change:
    value, expires = saved.get("value"), saved.get("expires_ms")
    if not isinstance(value, str):
        return None
    if expires is None:
        return (value, None)  # it had no expiry before `on`: put it back as it was
    left = int(expires) - now_ms
    return (value, left) if left > 0 else None


def _gate(runtime: Runtime, options: ApplyOptions, confirm: Confirm, action: str, summary: str, details: Any) -> str:
    from proaudit_ops.protocols.approval import Proposal, gate

    return gate(runtime, options, Proposal(action, MODE_KEY, summary, 1, [details]), confirm)


def turn_on(
    runtime: Runtime, message: str, ttl: timedelta, options: ApplyOptions, confirm: Confirm
) -> MaintenanceState:
    from proaudit_ops.protocols.approval import audit_standalone

    text = check_message(message)
    ttl_ms = int(ttl.total_seconds() * 1000)
    store = runtime.kv()
    before = store.read(KEYS)
    summary = (
        f"set {MODE_KEY}={ON_VALUE} and {MESSAGE_KEY}={json.dumps(text)} for {int(ttl.total_seconds())} s"
        f" in {store.label}"
    )
    details = {"message": text, "ttl_s": int(ttl.total_seconds())}
    decided = _gate(runtime, options, confirm, ACTION_ON, summary, details)
    if decided != "go":
        return MaintenanceState(
            store.label, _is_on(before), _states(before), decided, "on", _states(before), plan=summary
        )
    for _ in range(_SWAP_ATTEMPTS):
        before = store.read(KEYS)
        now = store.now_ms()
        previous = before[PREVIOUS_KEY].value
        if previous is None:  # the first `on`: remember what `off` must put back
            previous = json.dumps(
                {
                    "saved_ms": now,
                    MODE_KEY: _entry_json(before[MODE_KEY], now),
                    MESSAGE_KEY: _entry_json(before[MESSAGE_KEY], now),
                },
                sort_keys=True,
            )
        changes: dict[str, Change] = {
            MODE_KEY: (ON_VALUE, ttl_ms),
            MESSAGE_KEY: (text, ttl_ms),
            PREVIOUS_KEY: (previous, ttl_ms),
        }
        expect = {key: before[key].value for key in KEYS}
        if store.swap(expect, changes):
            break
    else:
        raise Refused(
            "the maintenance keys kept changing while proaudit set them",
            hint="check who else is writing them, then rerun",
        )
    crash_point("maintenance:after_set")
    after = store.read(KEYS)
    seq = audit_standalone(
        runtime,
        ACTION_ON,
        MODE_KEY,
        "applied",
        {
            "before": _audit_view(before),
            "after": _audit_view(after),
            "ttl_s": int(ttl.total_seconds()),
            "store": store.label,
        },
    )
    return MaintenanceState(store.label, _is_on(after), _states(after), "applied", "on", _states(before), seq)


def turn_off(runtime: Runtime, options: ApplyOptions, confirm: Confirm) -> MaintenanceState:
    from proaudit_ops.protocols.approval import audit_standalone

    store = runtime.kv()
    before = store.read(KEYS)
    if all(before[key].value is None for key in KEYS):
        return MaintenanceState(store.label, False, _states(before), "nothing", "off", _states(before))
    saved = _saved(before[PREVIOUS_KEY].value)
    what = "restore the values saved by `maintenance on`" if saved else f"delete {MODE_KEY} and {MESSAGE_KEY}"
    summary = f"{what} in {store.label}"
    decided = _gate(runtime, options, confirm, ACTION_OFF, summary, {"restore": bool(saved)})
    if decided != "go":
        return MaintenanceState(
            store.label, _is_on(before), _states(before), decided, "off", _states(before), plan=summary
        )
    for _ in range(_SWAP_ATTEMPTS):
        before = store.read(KEYS)
        saved = _saved(before[PREVIOUS_KEY].value)
        now = store.now_ms()
        changes: dict[str, Change] = {PREVIOUS_KEY: None}
        for key in (MODE_KEY, MESSAGE_KEY):
            changes[key] = _restore(saved.get(key) or {}, now) if saved else None
        if store.swap({key: before[key].value for key in KEYS}, changes):
            break
    else:
        raise Refused(
            "the maintenance keys kept changing while proaudit restored them",
            hint="check who else is writing them, then rerun",
        )
    after = store.read(KEYS)
    seq = audit_standalone(
        runtime,
        ACTION_OFF,
        MODE_KEY,
        "applied",
        {"before": _audit_view(before), "after": _audit_view(after), "store": store.label},
    )
    return MaintenanceState(store.label, _is_on(after), _states(after), "applied", "off", _states(before), seq)


def _saved(raw: str | None) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _audit_view(entries: dict[str, Entry]) -> dict[str, Any]:
    return {key: {"value": entries[key].value, "ttl_ms": entries[key].ttl_ms} for key in (MODE_KEY, MESSAGE_KEY)}
