"""`recovery failover --replica URL`: promote a streaming replica when the primary is down.

The runbook's step 3 (Failover Steps) with its checks: the replica must be in recovery and not
lag more than PROAUDIT_REPLICA_MAX_LAG_SECONDS; the configured primary must not answer as a
primary (two primaries split the cluster) unless --force. Then pg_promote() (waiting for it),
poll until the server accepts writes, verify one (a transaction id is assigned and a temporary
table written: both refused during recovery, and nothing is left behind), and say what to do next:
the new DATABASE_URL (written with --env-file, mode 0600, atomically; printed with the password
masked) and the runbook's restart commands. Goes through the approval gate, and is audited (to
the fallback file when the old primary cannot take the record).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proaudit_ops.crashpoints import crash_point
from proaudit_ops.db.engine import engine_timeouts, read_only, write_tx
from proaudit_ops.errors import ExitCode, OutcomeUnknown, ProauditError, Refused, UsageError
from proaudit_ops.redact import mask_url

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from proaudit_ops.protocols.approval import Confirm
    from proaudit_ops.protocols.guard import ApplyOptions
    from proaudit_ops.runtime import Runtime

ACTION = "recovery.failover"
# The runbook's "Restart services" lines, in its order.
RESTART_COMMANDS = ("sudo systemctl restart tekvwarho-api", "sudo systemctl restart tekvwarho-celery")
PROMOTE_WAIT_S = 60
MAX_ENV_FILE_BYTES = 256 * 1024


@dataclass(frozen=True)
class FailoverResult:
    replica: str  # masked
    outcome: str  # promoted | planned | aborted
    lag_s: float | None
    checks: list[str] = field(default_factory=list)
    database_url: str = ""  # masked
    env_file: str | None = None
    restart_commands: list[str] = field(default_factory=list)
    seconds: float = 0.0
    audit_seq: int | None = None

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.REFUSED if self.outcome == "aborted" else ExitCode.OK


def _url(raw: str) -> str:
    from proaudit_ops.config import InvalidValue, check_database_url, normalise_db_url

    try:
        check_database_url(raw)
    except InvalidValue as exc:
        raise UsageError(f"--replica {exc.message}", hint=exc.hint or "e.g. postgresql://USER@HOST:5432/DB") from None
    url = normalise_db_url(raw)
    if not url.startswith("postgresql"):
        raise UsageError("--replica must be a PostgreSQL URL (only PostgreSQL has replicas to promote)")
    return url


def _engine(url: str, runtime: Runtime) -> Engine:
    from proaudit_ops.db.engine import make_engine

    s = runtime.settings
    return make_engine(
        url,
        connect_timeout_s=max(1, int(s.proaudit_health_timeout_seconds)),
        lock_timeout_ms=s.proaudit_lock_timeout_ms,
        statement_timeout_ms=max(s.proaudit_statement_timeout_ms, (PROMOTE_WAIT_S + 5) * 1000),
    )


def _primary_answers(runtime: Runtime, replica_url: str) -> str | None:
    """The configured primary's masked URL when it answers and is not in recovery; else None."""
    from sqlalchemy import text

    s = runtime.settings
    if s.is_sandbox or s.database_url is None:
        return None
    primary = s.effective_database_url()
    if primary == replica_url:
        return None
    engine = _engine(primary, runtime)
    try:
        with read_only(engine) as conn:
            if not conn.execute(text("SELECT pg_is_in_recovery()")).scalar():
                return mask_url(primary)
    except ProauditError:  # unreachable is what we expect: the primary is down
        return None
    finally:
        engine.dispose()
    return None


def _accepts_writes(engine: Engine) -> bool:
    from sqlalchemy import text

    limits = engine_timeouts(engine)
    try:
        with write_tx(engine, lock_timeout_ms=limits.lock_ms, statement_timeout_ms=limits.statement_ms) as conn:
            if conn.execute(text("SELECT pg_is_in_recovery()")).scalar():
                return False
            conn.execute(text("SELECT txid_current()"))
            conn.execute(text("CREATE TEMP TABLE proaudit_failover_probe (at timestamptz) ON COMMIT DROP"))
            conn.execute(text("INSERT INTO proaudit_failover_probe VALUES (now())"))
            return conn.execute(text("SELECT count(*) FROM proaudit_failover_probe")).scalar() == 1
    except ProauditError:  # still read-only (or restarting): not yet
        return False


def write_env_file(path: Path, database_url: str) -> Path:
    """Set DATABASE_URL in an env file (other lines kept), atomically, mode 0600."""
    from proaudit_ops.files import check_output_path, read_text_file

    path = check_output_path(path, "--env-file")
    lines: list[str] = []
    if path.exists():
        lines = read_text_file(path, "--env-file", max_bytes=MAX_ENV_FILE_BYTES).splitlines()
    kept = [ln for ln in lines if not ln.lstrip().removeprefix("export ").lstrip().startswith("DATABASE_URL=")]
    body = "\n".join([*kept, f"DATABASE_URL={database_url}"]) + "\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, body.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write --env-file {path}: {exc.strerror}") from None
    return path


def failover(
    runtime: Runtime,
    replica: str,
    options: ApplyOptions,
    confirm: Confirm,
    *,
    env_file: Path | None = None,
    force: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> FailoverResult:
    from sqlalchemy import text

    from proaudit_ops.core.recovery.health import replication
    from proaudit_ops.files import check_output_path
    from proaudit_ops.protocols.approval import Proposal, audit_standalone, gate

    url = _url(replica)  # to connect with (the driver named)
    shown = mask_url(replica)  # what the operator gave is what the services get
    if env_file is not None:
        env_file = check_output_path(env_file, "--env-file")  # a bad path fails before anything changes
    max_lag = runtime.settings.proaudit_replica_max_lag_seconds
    engine = _engine(url, runtime)
    started = time.monotonic()
    try:
        with read_only(engine) as conn:
            repl = replication(conn)
            version = int(conn.execute(text("SHOW server_version_num")).scalar() or 0)
        if repl["role"] != "replica":
            raise Refused(
                f"{shown} is not in recovery (pg_is_in_recovery() is false): it is already a primary",
                hint="if it was promoted already, point DATABASE_URL at it and restart the services",
            )
        if version < 120000:
            raise Refused(f"{shown} runs PostgreSQL {version}: pg_promote() needs 12 or later")
        lag = repl.get("lag_s")
        checks = [f"{shown} is in recovery", "replay lag " + ("unknown" if lag is None else f"{lag:.1f} s")]
        if lag is None or lag > max_lag:
            if not force:
                raise Refused(
                    f"the replica's replay lag is {'unknown' if lag is None else f'{lag:.1f} s'} "
                    f"(allowed {max_lag:g} s): promoting it loses the writes it has not replayed",
                    hint="wait for it to catch up, or rerun with --force to accept the loss",
                )
            checks.append("lag above the limit accepted (--force)")
        alive = _primary_answers(runtime, url)
        if alive is not None:
            if not force:
                raise Refused(
                    f"the primary {alive} still answers as a primary: promoting the replica makes two primaries",
                    hint="stop the primary first (or fence it), or rerun with --force",
                )
            checks.append(f"the primary {alive} still answers (--force)")
        summary = f"promote {shown} to primary (pg_promote) and print the new DATABASE_URL"
        details: dict[str, Any] = {"replica": shown, "lag_s": lag, "env_file": str(env_file) if env_file else None}
        decided = gate(runtime, options, Proposal(ACTION, shown, summary, 1, [details]), confirm)
        if decided != "go":
            return FailoverResult(shown, decided, lag, checks)
        limits = engine_timeouts(engine)
        try:
            with write_tx(engine, lock_timeout_ms=limits.lock_ms, statement_timeout_ms=limits.statement_ms) as conn:
                promoted = conn.execute(text("SELECT pg_promote(true, :wait)"), {"wait": PROMOTE_WAIT_S}).scalar()
        except ProauditError as exc:
            audit_standalone(runtime, ACTION, shown, "unknown", {**details, "error": exc.message})
            raise OutcomeUnknown(
                f"pg_promote() on {shown} did not answer: {exc.message}",
                hint=f"check `SELECT pg_is_in_recovery()` on {shown}; rerun failover only if it is still true",
            ) from None
        crash_point("failover:after_promote")
        if not promoted:
            checks.append(f"pg_promote() did not confirm within {PROMOTE_WAIT_S} s; waiting for writes")
        deadline = time.monotonic() + PROMOTE_WAIT_S
        while not _accepts_writes(engine):
            if time.monotonic() > deadline:
                audit_standalone(runtime, ACTION, shown, "unknown", {**details, "error": "no write accepted"})
                raise OutcomeUnknown(
                    f"{shown} was asked to promote but accepted no write within {PROMOTE_WAIT_S} s",
                    hint=f"check the server's log and `SELECT pg_is_in_recovery()` on {shown}",
                )
            sleep(0.2)
        checks.append("promoted: accepts writes (a transaction id and a temporary table)")
        written = write_env_file(env_file, replica) if env_file is not None else None
        seq = audit_standalone(
            runtime, ACTION, shown, "applied", {**details, "seconds": round(time.monotonic() - started, 2)}
        )
    finally:
        engine.dispose()
    return FailoverResult(
        shown,
        "promoted",
        lag,
        checks,
        database_url=shown,
        env_file=str(written) if written else None,
        restart_commands=list(RESTART_COMMANDS),
        seconds=round(time.monotonic() - started, 2),
        audit_seq=seq,
    )
