"""Walk the hash chain (table or fallback file) and name the first broken record.

Problems:
  edited     a record's content no longer matches its hash (any column changed, including
             seq, hash and prev_hash), or its JSON text is not the canonical text that was hashed;
  deleted    a seq gap (records missing), or a record chained to something other than the record
             before it (the record it followed was removed, or rewritten with a recomputed hash);
  reordered  two records swapped places: a record is intact but sits at another record's seq.

A hash chain alone cannot see a removed tail or a wholesale rebuild of the chain: compare the
`head_hash` of a verify run with one kept elsewhere for that (reference/reliability.md section 3).
Read-only: runs inside `engine.read_only` (no locks).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from proaudit_ops.audit.canonical import GENESIS_HASH, canonical_json, sha256_hex, ts_iso
from proaudit_ops.audit.fallback import read_lines
from proaudit_ops.audit.records import AuditRecord
from proaudit_ops.db.schema import ops_audit_log as T
from proaudit_ops.timeutil import as_utc

PROBLEMS = ("edited", "deleted", "reordered")
_MAX_SEQ_SEARCH = 5_000_000


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int  # records verified (on a break: the intact records before it)
    first_bad_seq: int | None
    problem: str | None  # edited | deleted | reordered
    detail: str | None
    head_hash: str | None = None  # hash of the last intact record (keep it elsewhere)
    last_seq: int | None = None
    line: int | None = None  # fallback file only: the line of the first broken record


@dataclass(frozen=True)
class _Item:
    seq: int | None
    prev_hash: str | None
    hash: str | None
    payload: dict[str, Any] | None  # the hashed fields as stored; None when damaged
    damage: str | None
    where: str  # "seq 5" or "line 7"
    line: int | None = None


@dataclass(frozen=True)
class _Lookups:
    has_seq: Callable[[int], bool]
    seq_of_hash: Callable[[str], int | None]
    max_seq: Callable[[], int]


def _hash_with_seq(payload: dict[str, Any]) -> Callable[[int], str]:
    """hash(payload with seq=s) for many s, without re-serialising the payload each time."""
    marker = f"@@seq-{uuid.uuid4().hex}@@"
    text = canonical_json({**payload, "seq": marker})
    before, _, after = text.partition(json.dumps(marker))
    return lambda s: sha256_hex(f"{before}{s}{after}")


def _walk(items: Iterable[_Item]) -> tuple[int, int, str, _Item | None]:
    """(checked, expected next seq, prev hash, first bad item or None)."""
    checked, expected, prev = 0, 1, GENESIS_HASH
    for item in items:
        if item.damage is not None or item.payload is None:
            return checked, expected, prev, item
        if sha256_hex(canonical_json(item.payload)) != item.hash:
            return checked, expected, prev, item
        if item.seq != expected or item.prev_hash != prev:
            return checked, expected, prev, item
        checked += 1
        expected += 1
        prev = item.hash
    return checked, expected, prev, None


def _classify(item: _Item, expected: int, prev: str, look: _Lookups) -> tuple[int, str, str]:
    """(first bad seq, problem, detail) for the first item that failed."""
    where = item.where
    if item.damage is not None or item.payload is None:
        return expected if item.seq is None else item.seq, "edited", f"{where}: {item.damage}"
    assert item.seq is not None
    assert item.hash is not None
    hash_for = _hash_with_seq(item.payload)
    if hash_for(item.seq) != item.hash:
        original = _original_seq(hash_for, item.hash, look)
        if original is not None and original != item.seq:
            if look.has_seq(original):
                return (
                    item.seq,
                    "reordered",
                    f"{where} holds the record written as seq {original} "
                    f"(records {item.seq} and {original} were swapped)",
                )
            return original, "edited", f"record {original} was moved to seq {item.seq}"
        return (
            item.seq,
            "edited",
            f"{where}: content does not match its hash (the record was edited)",
        )
    if item.seq != expected:
        if look.has_seq(expected):
            return (
                expected,
                "reordered",
                f"{where} holds seq {item.seq} where seq {expected} was expected (records out of order)",
            )
        moved = look.seq_of_hash(item.prev_hash or "") if item.seq == expected + 1 else None
        if moved is not None:
            return expected, "edited", f"record {expected} was moved to seq {moved}"
        missing = f"record {expected} is" if item.seq == expected + 1 else (f"records {expected}..{item.seq - 1} are")
        return (
            expected,
            "deleted",
            f"{missing} missing (seq jumps from {expected - 1} to {item.seq})",
        )
    what = "the chain's start (genesis)" if expected == 1 else f"record {expected - 1} ({prev[:12]}…)"
    return (
        item.seq,
        "deleted",
        f"{where} is chained to {str(item.prev_hash)[:12]}…, not to {what}: the record it followed "
        "was removed, or rewritten with a recomputed hash",
    )


def _original_seq(hash_for: Callable[[int], str], stored: str, look: _Lookups) -> int | None:
    for seq in range(1, min(look.max_seq(), _MAX_SEQ_SEARCH) + 2):
        if hash_for(seq) == stored:
            return seq
    return None


def _result(checked: int, expected: int, prev: str, bad: _Item | None, look: _Lookups) -> VerifyResult:
    head = None if checked == 0 else prev
    last = None if checked == 0 else expected - 1
    if bad is None:
        return VerifyResult(True, checked, None, None, None, head_hash=head, last_seq=last)
    seq, problem, detail = _classify(bad, expected, prev, look)
    return VerifyResult(False, checked, seq, problem, detail, head_hash=head, last_seq=last)


# -- the table ----------------------------------------------------------------------------


def _row_item(row: Any) -> _Item:
    seq = int(row["seq"])
    where = f"seq {seq}"
    parsed: dict[str, Any] = {}
    for name in ("before", "after", "external_ids"):
        text = row[name]
        if text is None:
            parsed[name] = None
            continue
        try:
            value = json.loads(text)
        except ValueError:
            return _Item(seq, row["prev_hash"], row["hash"], None, f"{name} is not valid JSON", where)
        if value is None or canonical_json(value) != text:
            return _Item(
                seq,
                row["prev_hash"],
                row["hash"],
                None,
                f"{name} is not the canonical JSON that was hashed (edited)",
                where,
            )
        parsed[name] = value
    ts = as_utc(row["ts"])
    assert ts is not None
    payload = {
        "seq": seq,
        "ts": ts_iso(ts),
        "actor": row["actor"],
        "host": row["host"],
        "command": row["command"],
        "incident": row["incident"],
        "action": row["action"],
        "target": row["target"],
        **parsed,
        "outcome": row["outcome"],
        "prev_hash": row["prev_hash"],
    }
    return _Item(seq, row["prev_hash"], row["hash"], payload, None, where)


def verify_chain(conn: Connection) -> VerifyResult:
    """Walk ops_audit_log by seq; ok with the count, or the first broken record."""
    result = conn.execute(select(T).order_by(T.c.seq).execution_options(yield_per=1000))
    try:
        checked, expected, prev, bad = _walk(_row_item(row) for row in result.mappings())
    finally:
        result.close()

    def has_seq(seq: int) -> bool:
        return conn.execute(select(T.c.seq).where(T.c.seq == seq)).first() is not None

    def seq_of_hash(value: str) -> int | None:
        return conn.execute(select(T.c.seq).where(T.c.hash == value)).scalar()

    def max_seq() -> int:
        return int(conn.execute(select(func.coalesce(func.max(T.c.seq), 0))).scalar_one())

    return _result(checked, expected, prev, bad, _Lookups(has_seq, seq_of_hash, max_seq))


# -- the fallback file --------------------------------------------------------------------


def _line_item(number: int, line: str) -> _Item:
    where = f"line {number}"
    try:
        data = json.loads(line)
        if not isinstance(data, dict):
            raise TypeError("not an object")
        record = AuditRecord.from_dict(data)
    except (ValueError, KeyError, TypeError) as exc:
        return _Item(None, None, None, None, f"not a valid audit record ({exc})", where, number)
    if canonical_json(data) != line:
        damage = "not canonical JSON (edited)"
        return _Item(record.seq, record.prev_hash, record.hash, None, damage, where, number)
    payload = record.payload()
    return _Item(record.seq, record.prev_hash, record.hash, payload, None, where, number)


def _file_items(path: Path) -> list[_Item]:
    return [_line_item(number, line) for number, line in enumerate(read_lines(path), start=1)]


def verify_file(path: Path) -> VerifyResult:
    """Verify the fallback file's own chain; `line` and `detail` name the first broken line."""
    if not path.exists():
        return VerifyResult(True, 0, None, None, None)
    items = _file_items(path)
    seqs = {item.seq for item in items if item.seq is not None}
    by_hash = {item.hash: item.seq for item in items if item.hash and item.seq is not None}
    look = _Lookups(
        has_seq=lambda s: s in seqs,
        seq_of_hash=lambda h: by_hash.get(h),
        max_seq=lambda: max([len(items), *seqs]),
    )
    checked, expected, prev, bad = _walk(items)
    result = _result(checked, expected, prev, bad, look)
    if bad is None:
        return result
    detail = str(result.detail)
    if not detail.startswith(bad.where):
        detail = f"{bad.where}: {detail}"
    return dataclasses.replace(result, detail=detail, line=bad.line)
