"""Walk the hash chain (table or fallback file) and name the first broken record.

Problems:
  edited     a record's content no longer matches its hash (any column changed, including
             seq, hash and prev_hash), or its JSON text is not the canonical text that was hashed;
  deleted    a seq gap (records missing), or a record chained to something other than the record
             before it (the record it followed was removed, or rewritten with a recomputed hash);
  reordered  two records swapped places: a record is intact but sits at another record's seq.

A hash chain alone cannot see a removed tail or a wholesale rebuild of the chain: signed
checkpoints of the head (audit/checkpoint.py) do.
Read-only: runs inside `engine.read_only` (no locks).
"""

from __future__ import annotations

import dataclasses
import json
import json.encoder
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, Text, func, select, type_coerce

from proaudit_ops.audit.canonical import GENESIS_HASH, canonical_json, sha256_hex, ts_iso
from proaudit_ops.audit.fallback import iter_lines
from proaudit_ops.audit.records import AuditRecord
from proaudit_ops.db.engine import is_postgres
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
    raw_ts = row["ts"]
    ts = as_utc(datetime.fromisoformat(raw_ts) if isinstance(raw_ts, str) else raw_ts)
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


_COLUMNS = (
    T.c.seq,
    T.c.ts,  # replaced by _ts_text(): the hashed form of the time, without a datetime per row
    T.c.actor,
    T.c.host,
    T.c.command,
    T.c.incident,
    T.c.action,
    T.c.target,
    T.c.before,
    T.c.after,
    T.c.outcome,
    T.c.external_ids,
    T.c.prev_hash,
    T.c.hash,
)
_FETCH = 2000  # rows per round trip (a server-side cursor on PostgreSQL): constant memory
_PROGRESS_EVERY = 5000
_ENC = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses for a str
# The text between the two adjacent raw JSON columns in the hashed text. Only when a stored
# after/before contains it could bytes have been moved between them without changing the hash.
_AFTER_BEFORE = ',"before":'


def _ts_text(conn: Connection) -> ColumnElement[Any]:
    """ts as text the fast path can use as is (PostgreSQL formats it) or by slicing (SQLite's raw text)."""
    if is_postgres(conn):
        utc = func.timezone("UTC", T.c.ts)
        return func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"').label("ts")
    return type_coerce(T.c.ts, Text()).label("ts")


def _fast_text(row: Any) -> str | None:
    """The canonical text that was hashed, spliced from the stored columns without parsing them.

    Byte-identical to canonical_json(payload) for an intact record (the stored JSON texts are the
    canonical texts that were hashed); None when the slow path must decide (odd types, a JSON
    `null` stored as text, or a possible shift of bytes between after and before). A match of
    the hash then proves every column holds what was hashed.
    """
    seq, ts, actor, host, command, incident, action, target, before, after, outcome, external, prev, _h = row
    if before == "null" or after == "null" or external == "null":
        return None
    if (after is not None and _AFTER_BEFORE in after) or (before is not None and _AFTER_BEFORE in before):
        try:
            json.loads(after or "null")
            json.loads(before or "null")
        except ValueError:
            return None
    try:
        if isinstance(ts, str):
            if len(ts) == 27 and ts[10] == "T" and ts[26] == "Z":
                stamp = ts
            elif len(ts) == 26 and ts[10] == " ":
                stamp = f"{ts[:10]}T{ts[11:]}Z"
            else:
                return None
        else:
            stamp = ts_iso(ts)
        return "".join(
            (
                '{"action":',
                _ENC(action),
                ',"actor":',
                _ENC(actor),
                ',"after":',
                "null" if after is None else after,
                _AFTER_BEFORE,
                "null" if before is None else before,
                ',"command":',
                _ENC(command),
                ',"external_ids":',
                "null" if external is None else external,
                ',"host":',
                _ENC(host),
                ',"incident":',
                "null" if incident is None else _ENC(incident),
                ',"outcome":',
                _ENC(outcome),
                ',"prev_hash":',
                _ENC(prev),
                ',"seq":',
                str(int(seq)) if type(seq) is int else "",
                ',"target":',
                "null" if target is None else _ENC(target),
                ',"ts":',
                _ENC(stamp),
                "}",
            )
        )
    except (TypeError, ValueError, AttributeError):
        return None


def _count(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(T.c.seq), 0))).scalar_one())


def verify_chain(conn: Connection, progress: Callable[[int, int], None] | None = None) -> VerifyResult:
    """Walk ops_audit_log by seq; ok with the count, or the first broken record.

    Streams the rows (yield_per: a server-side cursor on PostgreSQL) in constant memory. An
    intact record is checked on the fast path (the hash over the stored texts); the first one
    that fails is parsed and classified. `progress(done, total)` every few thousand records.
    """
    total = _count(conn) if progress is not None else 0
    checked, expected, prev = 0, 1, GENESIS_HASH
    bad: _Item | None = None
    columns = [_ts_text(conn) if c is T.c.ts else c for c in _COLUMNS]
    result = conn.execute(select(*columns).order_by(T.c.seq).execution_options(yield_per=_FETCH))
    try:
        for row in result:
            text = _fast_text(row)
            intact = text is not None and sha256_hex(text) == row[13]
            if not intact:
                item = _row_item(row._mapping)
                intact = item.damage is None and item.payload is not None
                intact = intact and sha256_hex(canonical_json(item.payload)) == item.hash
                if not intact:
                    bad = item
                    break
            if row[0] != expected or row[12] != prev:
                bad = _row_item(row._mapping)
                break
            checked += 1
            expected += 1
            prev = row[13]
            if progress is not None and checked % _PROGRESS_EVERY == 0:
                progress(checked, max(total, checked))
    finally:
        result.close()
    if progress is not None:
        progress(checked, max(total, checked))

    def has_seq(seq: int) -> bool:
        return conn.execute(select(T.c.seq).where(T.c.seq == seq)).first() is not None

    def seq_of_hash(value: str) -> int | None:
        return conn.execute(select(T.c.seq).where(T.c.hash == value)).scalar()

    def max_seq() -> int:
        return _count(conn)

    return _result(checked, expected, prev, bad, _Lookups(has_seq, seq_of_hash, max_seq))


def hash_at(conn: Connection, seq: int) -> str | None:
    """The stored hash of the record at `seq` (None: no such record)."""
    value = conn.execute(select(T.c.hash).where(T.c.seq == seq)).scalar()
    return None if value is None else str(value)


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


def _file_items(path: Path) -> Iterator[_Item]:
    return (_line_item(number, line) for number, line in enumerate(iter_lines(path), start=1))


def verify_file(path: Path) -> VerifyResult:
    """Verify the fallback file's own chain; `line` and `detail` name the first broken line.

    Streams the file; only a broken chain reads it again, to tell what happened.
    """
    if not path.exists():
        return VerifyResult(True, 0, None, None, None)
    checked, expected, prev, bad = _walk(_file_items(path))
    if bad is None:
        return _result(checked, expected, prev, bad, _Lookups(lambda _s: False, lambda _h: None, lambda: 0))
    seqs: set[int] = set()
    by_hash: dict[str, int] = {}
    count = 0
    for item in _file_items(path):
        count += 1
        if item.seq is not None:
            seqs.add(item.seq)
            if item.hash:
                by_hash[item.hash] = item.seq
    look = _Lookups(
        has_seq=lambda s: s in seqs,
        seq_of_hash=lambda h: by_hash.get(h),
        max_seq=lambda: max([count, *seqs]),
    )
    result = _result(checked, expected, prev, bad, look)
    detail = str(result.detail)
    if not detail.startswith(bad.where):
        detail = f"{bad.where}: {detail}"
    return dataclasses.replace(result, detail=detail, line=bad.line)
