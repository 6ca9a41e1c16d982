"""Signed checkpoints of the audit chain's head: what a hash chain alone cannot see.

A chain shows an edited, deleted or reordered record, but not a removed tail or a chain rebuilt
(every hash recomputed) after an edit. A checkpoint records the head (seq, hash, record count,
time) signed with HMAC-SHA256 under a key the database never holds, one canonical JSON line per
checkpoint appended to a file outside the database (mode 0600):

    {"count":120,"database":"postgresql+psycopg://ops:***@db/billing","hash":"…","key_id":"…",
     "seq":120,"sig":"…","ts":"2026-12-01T18:15:02.123456Z","v":1}

`audit verify` compares the chain with the latest checkpoint of the same database: a head below
its seq is a truncated tail, a different hash at its seq a rebuilt chain. A line of that database
whose signature does not verify is refused (forged, or signed with another key).

The key: `proaudit_checkpoint_key`, or one generated on first use in the tool's home
(`checkpoint.key`, 0600, refused when others can read it or it is not ours).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection

from proaudit_ops.audit import fallback
from proaudit_ops.audit.canonical import canonical_json, ts_iso
from proaudit_ops.errors import ConfigError, Refused, UsageError
from proaudit_ops.timeutil import parse_iso, utcnow

if TYPE_CHECKING:
    from pydantic import SecretStr
    from sqlalchemy import Engine

    from proaudit_ops.config import Settings

VERSION = 1
MAX_LINE_BYTES = 4096
_KEY_ID_LABEL = b"proaudit audit checkpoint key id"

log = logging.getLogger("proaudit.audit")


@dataclass(frozen=True)
class CheckpointKey:
    secret: bytes = field(repr=False)
    source: str  # "proaudit_checkpoint_key" or the key file's path

    @property
    def key_id(self) -> str:
        """Names the key in a checkpoint (which key signed it), without revealing it."""
        return hmac.new(self.secret, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]

    def sign(self, body: dict[str, Any]) -> str:
        return hmac.new(self.secret, canonical_json(body).encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    count: int
    ts: datetime
    database: str
    key_id: str
    sig: str
    line: int | None = field(default=None, compare=False)  # where it was read from

    def body(self) -> dict[str, Any]:
        """Every signed field."""
        return {
            "v": VERSION,
            "seq": self.seq,
            "hash": self.hash,
            "count": self.count,
            "ts": ts_iso(self.ts),
            "database": self.database,
            "key_id": self.key_id,
        }

    def to_line(self) -> str:
        return canonical_json({**self.body(), "sig": self.sig})


def database_label(bind: Engine | Connection) -> str:
    """Which database a checkpoint belongs to: its URL with the password masked."""
    return bind.engine.url.render_as_string(hide_password=True)


def load_key(configured: SecretStr | None, key_path: Path, *, create: bool) -> CheckpointKey | None:
    """The configured key, else the key file (generated when `create`); None when there is none."""
    if configured is not None:
        value = configured.get_secret_value().strip()
        if not value:
            raise ConfigError("proaudit_checkpoint_key is empty", hint="set a long random value, or unset it")
        return CheckpointKey(value.encode("utf-8"), "proaudit_checkpoint_key")
    from proaudit_ops.keyfiles import create_key_file, read_key_file

    if create and not os.path.lexists(key_path):
        create_key_file(key_path, "checkpoint key")
    raw = read_key_file(key_path, "checkpoint key", missing_ok=True)
    return None if raw is None else CheckpointKey(raw, str(key_path))


@dataclass(frozen=True)
class CheckpointStore:
    """The checkpoint file and the way to its key (loaded when first needed)."""

    path: Path
    key: Callable[[bool], CheckpointKey | None]  # key(create) -> the key, or None

    def write(self, database: str, seq: int, head_hash: str, count: int) -> Checkpoint:
        key = self.key(True)
        assert key is not None
        unsigned = Checkpoint(seq, head_hash, count, utcnow(), database, key.key_id, "")
        checkpoint = Checkpoint(**{**unsigned.__dict__, "sig": key.sign(unsigned.body())})
        data = (checkpoint.to_line() + "\n").encode("utf-8")
        with fallback.locked_fd(self.path, create=True) as fd:
            assert fd is not None
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # a line cut short by a crash stays on its own line
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        return checkpoint

    def latest(self, database: str, path: Path | None = None) -> Checkpoint | None:
        """The last checkpoint of `database` in the file (or `path`); Refused on a bad signature."""
        source = path or self.path
        named = path is not None
        key: CheckpointKey | None = None
        found: Checkpoint | None = None
        for number, line in _lines(source, named=named):
            checkpoint = _parse(line, source, number)
            if checkpoint.database != database:
                continue  # another database's (a profile sharing this home): not ours to judge
            if key is None:
                key = self.key(False)
                if key is None:
                    raise Refused(
                        f"{source} holds checkpoints but there is no checkpoint key to check them",
                        hint="set proaudit_checkpoint_key, or restore the key file in the tool's home",
                    )
            _check_signature(checkpoint, key, source)
            found = checkpoint
        return found


def _lines(path: Path, *, named: bool) -> Iterator[tuple[int, str]]:
    """Complete lines of the file, streamed (a final line without newline is a cut write: skipped)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        if named:
            raise UsageError(f"--checkpoint {str(path)!r}: no such file") from None
        return
    except OSError as exc:
        raise UsageError(f"checkpoint file {str(path)!r}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise UsageError(f"checkpoint file {str(path)!r} is not a regular file")
        for number, raw in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""), start=1):
            if len(raw) > MAX_LINE_BYTES:
                raise Refused(f"{path} line {number} is not a checkpoint (too long): the file was altered")
            if not raw.endswith(b"\n"):
                return
            text = raw[:-1].decode("utf-8", errors="replace").strip()
            if text:
                yield number, text


def _parse(line: str, path: Path, number: int) -> Checkpoint:
    try:
        data = json.loads(line)
        if not isinstance(data, dict) or data.get("v") != VERSION:
            raise ValueError("not a version-1 checkpoint")
        ts = parse_iso(str(data["ts"]))
        if ts is None:
            raise ValueError("no time")
        return Checkpoint(
            seq=int(data["seq"]),
            hash=str(data["hash"]),
            count=int(data["count"]),
            ts=ts,
            database=str(data["database"]),
            key_id=str(data["key_id"]),
            sig=str(data["sig"]),
            line=number,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise Refused(
            f"{path} line {number} is not a checkpoint ({exc}): the file was altered",
            hint="keep the file as evidence; verify against an older copy with --checkpoint",
        ) from None


def _check_signature(checkpoint: Checkpoint, key: CheckpointKey, path: Path) -> None:
    if hmac.compare_digest(key.sign(checkpoint.body()), checkpoint.sig):
        return
    why = "signed with another key" if checkpoint.key_id != key.key_id else "bad signature: forged or edited"
    raise Refused(
        f"checkpoint at {path} line {checkpoint.line} (seq {checkpoint.seq}) is not trusted: {why}",
        hint="keep the file as evidence; check which key (proaudit_checkpoint_key) signed it",
    )


def checkpoint_store(settings: Settings) -> CheckpointStore:
    """The store the settings name: proaudit_checkpoint_path (default home/audit-checkpoints.jsonl)."""
    home = settings.home()
    path = settings.proaudit_checkpoint_path or (home / "audit-checkpoints.jsonl")
    configured = settings.proaudit_checkpoint_key
    key_path = home / "checkpoint.key"
    cache: dict[bool, CheckpointKey | None] = {}

    def key(create: bool) -> CheckpointKey | None:
        if cache.get(create) is None:
            cache[create] = load_key(configured, key_path, create=create)
        return cache[create]

    return CheckpointStore(Path(path).expanduser(), key)


# -- comparing the chain with a checkpoint ------------------------------------------------


@dataclass(frozen=True)
class CheckpointCheck:
    path: str
    checkpoint: Checkpoint | None
    ok: bool
    problem: str | None  # truncated | rebuilt | None
    detail: str


def compare(conn: Connection, checkpoint: Checkpoint | None, path: Path) -> CheckpointCheck:
    """Does the table still hold the head the checkpoint signed?"""
    from sqlalchemy import func, select

    from proaudit_ops.audit.verify import hash_at
    from proaudit_ops.db.schema import ops_audit_log as T

    if checkpoint is None:
        return CheckpointCheck(
            str(path),
            None,
            True,
            None,
            f"no checkpoint of this database in {path}: a removed tail or a rebuilt chain cannot be seen "
            "(write one: proaudit audit checkpoint)",
        )
    when = ts_iso(checkpoint.ts)
    head = int(conn.execute(select(func.coalesce(func.max(T.c.seq), 0))).scalar_one())
    if head < checkpoint.seq:
        removed = (
            f"record {checkpoint.seq} was"
            if head + 1 == checkpoint.seq
            else f"records {head + 1}..{checkpoint.seq} were"
        )
        return CheckpointCheck(
            str(path),
            checkpoint,
            False,
            "truncated",
            f"the log ends at seq {head} but the checkpoint of {when} signed seq {checkpoint.seq}: "
            f"{removed} removed (truncated tail)",
        )
    if checkpoint.seq == 0:
        return CheckpointCheck(str(path), checkpoint, True, None, f"matches the checkpoint of {when} (empty log)")
    stored = hash_at(conn, checkpoint.seq)
    if stored != checkpoint.hash:
        return CheckpointCheck(
            str(path),
            checkpoint,
            False,
            "rebuilt",
            f"the record at seq {checkpoint.seq} has hash {str(stored)[:12]}… but the checkpoint of {when} signed "
            f"{checkpoint.hash[:12]}…: the chain was rewritten (rebuilt after an edit at or before that seq)",
        )
    return CheckpointCheck(
        str(path), checkpoint, True, None, f"matches the checkpoint of {when} at seq {checkpoint.seq}"
    )


# -- periodic checkpoints (AuditLog with checkpoint_every = N) -----------------------------


def defer_on_commit(conn: Connection, write: Callable[[], None]) -> None:
    """Run `write` when the caller's transaction commits; drop it on a rollback.

    The audit log appends inside the caller's transaction: a checkpoint written before it commits
    could sign a record that never exists. A failure to write is logged, never raised: the change
    and its record are committed by then (SQLAlchemy's commit event comes just before the
    driver's COMMIT, so only a COMMIT that itself fails can leave a checkpoint ahead of the log).
    """
    from sqlalchemy import event

    pending = _PENDING.get(conn)
    if pending is None:
        pending = _PENDING[conn] = []
        event.listen(conn, "commit", _flush)
        event.listen(conn, "rollback", _drop)
        event.listen(conn, "rollback_savepoint", _drop_savepoint)
    pending.append(write)


# Per Connection object (not conn.info, which outlives it with the pooled driver connection).
_PENDING: WeakKeyDictionary[Connection, list[Callable[[], None]]] = WeakKeyDictionary()


def _flush(conn: Connection) -> None:
    pending = _PENDING.get(conn) or []
    writes, pending[:] = list(pending), []
    for write in writes:
        try:
            write()
        except Exception as exc:  # see defer_on_commit: never fail a committed change
            log.warning("could not write the audit checkpoint: %s", exc)


def _drop(conn: Connection) -> None:
    _PENDING.get(conn, [])[:] = []


def _drop_savepoint(conn: Connection, _name: str, _context: Any) -> None:
    _drop(conn)  # conservative: a checkpoint skipped, never a false one
