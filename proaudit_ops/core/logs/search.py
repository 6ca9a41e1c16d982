"""`logs search`: the runbook's grep steps, over the app log with its rotations and the journal.

Sources, newest first: each configured log (`app.log`), then its rotations (`app.log.1`,
`app.log.2.gz`, ...), then the journal of the configured unit when `journalctl` exists. Files are
streamed line by line (a line is cut at MAX_LINE_BYTES; a file is never read whole) and only the
newest `limit` matches are kept; older files are not opened once enough matches are found, nor are
files last written before --since. The journal is read newest first by a subprocess with a timeout.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import stat
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING

from proaudit_ops.core.logs.pattern import compile_pattern
from proaudit_ops.errors import DependencyUnavailable, UsageError
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from proaudit_ops.config import Settings
    from proaudit_ops.runtime import Runtime

MAX_LINE_BYTES = 8192
MAX_LIMIT = 10_000
MAX_ROTATIONS = 50
JOURNAL_TIMEOUT_S = 20.0
RUNBOOK_LOG = Path("/var/log/tekvwarho/app.log")
_ROTATED_RE = re.compile(r"\.(\d{1,3})(\.gz)?$")
# ISO-8601 at the start of a line (the app's format and `journalctl -o short-iso`).
_TS_RE = re.compile(r"^\[?(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?")

Matcher = Callable[[str], bool]


@dataclass(frozen=True)
class LogMatch:
    source: str  # a file path, or journal:UNIT
    line_number: int  # in the file (in the journal: in journalctl's output, newest = 1)
    time: datetime | None
    text: str
    cut: bool = False  # the line was longer than MAX_LINE_BYTES and is shown cut


@dataclass
class SourceReport:
    source: str
    kind: str  # file | gzip | journal
    lines_read: int = 0
    matches: int = 0
    skipped: str | None = None  # why it was not (fully) read


@dataclass(frozen=True)
class LogSearchResult:
    matches: list[LogMatch]
    sources: list[SourceReport]
    criteria: dict[str, str]
    since: datetime | None
    limit: int
    more: bool  # more matches than the limit (the oldest were left out)
    journal: str | None = None
    notes: list[str] = field(default_factory=list)


# -- what to search -----------------------------------------------------------------------------


def sandbox_log_dir(settings: Settings) -> Path:
    return settings.sandbox_db_path().parent / "logs"


def configured_paths(rt: Runtime) -> list[Path]:
    s = rt.settings
    if s.proaudit_log_paths:
        return list(s.proaudit_log_paths)
    if s.is_sandbox:
        from proaudit_ops.sandbox.applog import ensure_app_logs

        rt.sandbox_engine()  # the sandbox, and its log, exist once anything has run
        return [ensure_app_logs(sandbox_log_dir(s), s.sandbox_db_path())]
    return [RUNBOOK_LOG]


def rotations(path: Path) -> list[Path]:
    """`path`, then its numbered rotations in order (app.log.1, app.log.2.gz, ...): newest first."""
    found: list[tuple[int, Path]] = []
    try:
        names = os.listdir(path.parent)
    except OSError:
        names = []
    prefix = path.name
    for name in names:
        if not name.startswith(prefix):
            continue
        match = _ROTATED_RE.fullmatch(name[len(prefix) :])
        if match:
            found.append((int(match.group(1)), path.parent / name))
    found.sort()
    return [path, *[p for _n, p in found[:MAX_ROTATIONS]]]


# -- reading ------------------------------------------------------------------------------------


def line_time(line: str) -> datetime | None:
    match = _TS_RE.match(line)
    if not match:
        return None
    day, clock, frac, zone = match.groups()
    text = f"{day}T{clock}{(frac or '')[:7]}"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if zone in (None, "Z"):
        return value.replace(tzinfo=UTC)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (value - sign * offset).replace(tzinfo=UTC)


def read_lines(handle: IO[bytes]) -> Iterator[tuple[str, bool]]:
    """Lines of a binary stream as text, each at most MAX_LINE_BYTES (the rest of a longer line is skipped)."""
    while True:
        raw = handle.readline(MAX_LINE_BYTES)
        if not raw:
            return
        cut = False
        if not raw.endswith(b"\n") and len(raw) >= MAX_LINE_BYTES:
            cut = True
            while True:  # skip the rest of the overlong line, a bounded chunk at a time
                rest = handle.readline(MAX_LINE_BYTES)
                if not rest or rest.endswith(b"\n"):
                    break
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n"), cut


def _open(path: Path) -> IO[bytes]:
    """A regular file opened for reading (a FIFO or a device is refused, never blocked on)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"not a regular file ({'a directory' if stat.S_ISDIR(info.st_mode) else 'special'})")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    raw = os.fdopen(fd, "rb")
    if path.name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def search_file(path: Path, match: Matcher, since: datetime | None, keep: int, report: SourceReport) -> list[LogMatch]:
    """The newest `keep` matches of one file, newest first."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        report.skipped = "not found"
        return []
    except OSError as exc:
        report.skipped = exc.strerror or str(exc)
        return []
    if since is not None and datetime.fromtimestamp(info.st_mtime, UTC) < since:
        report.skipped = "last written before --since"
        return []
    kept: deque[LogMatch] = deque(maxlen=keep)
    current: datetime | None = None
    try:
        with _open(path) as handle:
            for number, (text, cut) in enumerate(read_lines(handle), start=1):
                report.lines_read = number
                stamp = line_time(text)
                current = stamp or current  # a traceback line belongs to the line above it
                if since is not None and current is not None and current < since:
                    continue
                if match(text):
                    report.matches += 1
                    kept.append(LogMatch(str(path), number, stamp or current, text, cut))
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        report.skipped = f"unreadable after line {report.lines_read}: {exc}"
    return list(reversed(kept))


def search_journal(
    unit: str, match: Matcher, since: datetime | None, keep: int, report: SourceReport, *, timeout_s: float
) -> list[LogMatch]:
    """`journalctl -u UNIT -r` (newest first), matched here; stopped at `keep` matches or the timeout."""
    exe = shutil.which("journalctl")
    if exe is None:
        report.skipped = "journalctl not found"
        return []
    argv = [exe, "--unit", unit, "--reverse", "--no-pager", "--utc", "--output", "short-iso", "--quiet"]
    if since is not None:
        argv += ["--since", since.strftime("%Y-%m-%d %H:%M:%S")]
    found: list[LogMatch] = []
    deadline = time.monotonic() + timeout_s
    try:
        # argv is journalctl found on PATH plus a unit name validated at load (config.py): no shell
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)  # noqa: S603
    except OSError as exc:
        report.skipped = f"journalctl could not run: {exc.strerror or exc}"
        return []
    try:
        assert proc.stdout is not None
        for number, (text, cut) in enumerate(read_lines(proc.stdout), start=1):
            report.lines_read = number
            if time.monotonic() > deadline:
                report.skipped = f"stopped after {timeout_s:.0f}s"
                break
            if match(text):
                report.matches += 1
                found.append(LogMatch(f"journal:{unit}", number, line_time(text), text, cut))
                if len(found) >= keep:
                    break
    finally:
        proc.kill()
        proc.wait(timeout=5)
    return found


# -- the command ----------------------------------------------------------------------------------


def _criteria(
    ref: str | None, org: str | None, grep: str | None, *, fixed: bool, ignore_case: bool
) -> tuple[dict[str, str], Matcher]:
    checks: list[Matcher] = []
    criteria: dict[str, str] = {}
    if ref is not None:
        from proaudit_ops.core.references import validate_reference

        reference = validate_reference(ref)
        criteria["ref"] = reference
        checks.append(lambda line: reference in line)
    if org is not None:
        value = org.strip()
        if not value or len(value) > 100 or any(ch.isspace() for ch in value):
            raise UsageError(
                "--org must be an organization id (a UUID, no spaces)", hint="see proaudit subscriptions list"
            )
        criteria["org"] = value
        checks.append(lambda line: value in line)
    if grep is not None:
        criteria["grep"] = grep
        checks.append(compile_pattern(grep, fixed=fixed, ignore_case=ignore_case))
    if not checks:
        raise UsageError(
            "nothing to search for", hint="give --ref REFERENCE, --org ID or --grep PATTERN (e.g. --grep 'paystack')"
        )
    return criteria, lambda line: all(check(line) for check in checks)


def search_logs(
    rt: Runtime,
    *,
    ref: str | None = None,
    org: str | None = None,
    grep: str | None = None,
    fixed: bool = False,
    ignore_case: bool = False,
    since: timedelta | None = None,
    paths: list[str] | None = None,
    journal: bool = True,
    limit: int = 200,
    now: datetime | None = None,
) -> LogSearchResult:
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"--limit must be between 1 and {MAX_LIMIT}, got {limit}")
    criteria, match = _criteria(ref, org, grep, fixed=fixed, ignore_case=ignore_case)
    cutoff = (now or utcnow()) - since if since is not None else None
    bases = [Path(os.path.expanduser(p)) for p in paths] if paths else configured_paths(rt)
    matches: list[LogMatch] = []
    reports: list[SourceReport] = []
    for base in bases:
        files = rotations(base)
        for path in files:
            report = SourceReport(str(path), "gzip" if path.name.endswith(".gz") else "file")
            reports.append(report)
            if len(matches) >= limit:
                report.skipped = "not needed: enough newer matches"
                continue
            matches += search_file(path, match, cutoff, limit - len(matches), report)
    unit = rt.settings.proaudit_journal_unit
    use_journal = journal and not paths and not rt.settings.is_sandbox and unit != "off"
    if use_journal:
        report = SourceReport(f"journal:{unit}", "journal")
        reports.append(report)
        matches += search_journal(unit, match, cutoff, limit, report, timeout_s=JOURNAL_TIMEOUT_S)
    if not any(r.skipped is None or r.lines_read for r in reports):
        where = ", ".join(str(b) for b in bases)
        raise DependencyUnavailable(
            f"no log to search: {where} not found or unreadable",
            hint="set proaudit_log_paths (or pass --path) to where the app writes its log",
        )
    # Newest first across sources: lines with a time by it, the rest keep their source's order.
    ordered = sorted(
        enumerate(matches),
        key=lambda pair: (pair[1].time or datetime.min.replace(tzinfo=UTC), -pair[0]),
        reverse=True,
    )
    total = sum(r.matches for r in reports)
    result = [m for _i, m in ordered][:limit]
    notes = []
    if any(m.cut for m in result):
        notes.append(f"lines longer than {MAX_LINE_BYTES} bytes are shown cut")
    return LogSearchResult(
        matches=result,
        sources=reports,
        criteria=criteria,
        since=cutoff,
        limit=limit,
        more=total > len(result) or any(r.skipped == "not needed: enough newer matches" for r in reports),
        journal=f"journal:{unit}" if use_journal else None,
        notes=notes,
    )
