"""A corpus of hostile inputs: every one is exit 2, one `error:` line, no traceback, nothing changed.

Table-driven over the commands an on-call engineer types references, windows, counts and files
into. The sandbox is built once per module (seeding is the slow part) and shared: each case
compares a digest of the billing tables and of the `applied` audit records before and after, so
a case that slipped through to a change fails by name, whatever ran before it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

Invoke = Callable[..., Any]  # the `proaudit` fixture of tests/cli/conftest.py

REF = "PSK-STUCK-0001"  # pending here, success at Paystack: a fix or a replay would change it
SIGNATURE = "a" * 128
# Tables a fix, a replay or a redelivery writes to; the audit log counts only `applied` records
# (a refused replay is audited as `refused`, which is not a change).
WATCHED = ("payment_transactions", "tenant_skus", "webhook_events", "sim_transactions", "sim_refunds")


def _hostile_references() -> list[tuple[str, str]]:
    """(id, reference): pasted look-alikes, path tricks, bounds, control characters."""
    dash = REF.replace("-", "\u2013", 1)
    return [
        ("trailing-newline", REF + "\n"),
        ("trailing-crlf", REF + "\r\n"),
        ("trailing-space", REF + " "),
        ("leading-space", " " + REF),
        ("trailing-tab", REF + "\t"),
        ("trailing-nbsp", REF + "\u00a0"),
        ("en-dash", dash),
        ("em-dash", REF.replace("-", "\u2014", 1)),
        ("non-breaking-hyphen", REF.replace("-", "\u2011", 1)),
        ("minus-sign", REF.replace("-", "\u2212", 1)),
        ("fullwidth-hyphen", REF.replace("-", "\uff0d", 1)),
        ("zero-width-space", REF[:4] + "\u200b" + REF[4:]),
        ("zero-width-joiner", REF + "\u200d"),
        ("bom", "\ufeff" + REF),
        ("soft-hyphen", REF[:3] + "\u00ad" + REF[3:]),
        ("cyrillic-er", "\u0420" + REF[1:]),
        ("greek-kappa", REF.replace("K", "\u039a")),
        ("fullwidth-letters", "\uff30\uff33\uff2b" + REF[3:]),
        ("dot", "."),
        ("dotdot", ".."),
        ("three-dots", "..."),
        ("dotdot-prefix", "../" + REF),
        ("dotdot-suffix", REF + "/.."),
        ("percent-dots", "%2e%2e"),
        ("slash", "PSK/STUCK"),
        ("query", REF + "?perPage=1"),
        ("fragment", REF + "#x"),
        ("too-long", "A" * 101),
        ("huge", "A" * 100_000),
        ("empty", ""),
        ("only-spaces", "   "),
        ("inner-space", "PSK STUCK-0001"),
        ("nul", REF + "\x00"),
        ("control", "\x1b[31m" + REF),
        ("sql", REF + "';DROP TABLE payment_transactions;--"),
        ("unicode-digits", "PSK-STUCK-\u0660\u0660\u0660\u0661"),
        ("option-like", "-x"),
    ]


REFERENCE_COMMANDS = {
    "verify": ["payments", "verify"],
    "show": ["payments", "show"],
    "fix": ["payments", "verify", "--fix", "--yes"],
    "replay": ["webhooks", "replay", "--yes"],
}


def _reference_cases() -> list[Any]:
    cases = []
    for name, command in REFERENCE_COMMANDS.items():
        for case_id, reference in _hostile_references():
            # The reference after the options' `--`: a leading dash is then data, not an option.
            args = [*command, "--", reference] if case_id != "option-like" else [*command, reference]
            cases.append(pytest.param(args, id=f"{name}-{case_id}"))
        if name != "replay":  # replay asks Paystack first: an unknown reference is refused there (exit 4)
            cases.append(pytest.param([*command, REF.lower()], id=f"{name}-lower-case"))
    return cases


NUMBER_CASES = [
    pytest.param(args, id=case_id)
    for case_id, args in [
        ("stuck-since-overflow", ["payments", "stuck", "--since", "99999999999d"]),
        ("stuck-since-over-10y", ["payments", "stuck", "--since", "3651d"]),
        ("stuck-since-weeks-over", ["payments", "stuck", "--since", "522w"]),
        ("stuck-since-zero", ["payments", "stuck", "--since", "0s"]),
        ("stuck-since-negative", ["payments", "stuck", "--since=-1d"]),
        ("stuck-since-fraction", ["payments", "stuck", "--since", "1.5h"]),
        ("stuck-since-exponent", ["payments", "stuck", "--since", "1e9d"]),
        ("stuck-since-empty", ["payments", "stuck", "--since", ""]),
        ("stuck-since-word", ["payments", "stuck", "--since", "yesterday"]),
        ("stuck-since-arabic-digits", ["payments", "stuck", "--since", "\u0662\u0664h"]),
        ("stuck-since-trailing-junk", ["payments", "stuck", "--since", "24h\nx"]),
        ("stuck-since-huge-text", ["payments", "stuck", "--since", "9" * 5000 + "d"]),
        ("stuck-older-than-overflow", ["payments", "stuck", "--older-than", "99999999999d"]),
        ("stuck-older-than-not-shorter", ["payments", "stuck", "--older-than", "2d", "--since", "24h"]),
        ("stuck-older-than-garbage", ["payments", "stuck", "--older-than", "15"]),
        ("stuck-fix-since-overflow", ["payments", "stuck", "--fix", "--yes", "--since", "99999999999d"]),
        ("stuck-fix-older-than-overflow", ["payments", "stuck", "--fix", "--yes", "--older-than", "99999999999w"]),
        ("stuck-concurrency-zero", ["payments", "stuck", "--verify", "--concurrency", "0"]),
        ("stuck-concurrency-over", ["payments", "stuck", "--verify", "--concurrency", "65"]),
        ("stuck-concurrency-overflow", ["payments", "stuck", "--verify", "--concurrency", "9" * 30]),
        ("stuck-concurrency-negative", ["payments", "stuck", "--verify", "--concurrency=-1"]),
        ("stuck-concurrency-word", ["payments", "stuck", "--verify", "--concurrency", "many"]),
        ("status-since-overflow", ["payments", "status", "--since", "99999999999d"]),
        ("status-since-zero", ["payments", "status", "--since", "0m"]),
        ("status-since-hours-overflow", ["payments", "status", "--since", "2147483648000h"]),
        ("status-since-garbage", ["payments", "status", "--since", "1h; DROP"]),
        ("retry-hours-overflow", ["webhooks", "retry-failed", "--yes", "--hours", "2147483648000"]),
        ("retry-hours-over-10y", ["webhooks", "retry-failed", "--yes", "--hours", "87601"]),
        ("retry-hours-zero", ["webhooks", "retry-failed", "--yes", "--hours", "0"]),
        ("retry-hours-negative", ["webhooks", "retry-failed", "--yes", "--hours=-5"]),
        ("retry-hours-float", ["webhooks", "retry-failed", "--yes", "--hours", "1.5"]),
        ("retry-concurrency-overflow", ["webhooks", "retry-failed", "--yes", "--concurrency", "9" * 25]),
        ("gaps-since-overflow", ["webhooks", "gaps", "--since", "99999999999d"]),
        ("gaps-replay-since-overflow", ["webhooks", "gaps", "--replay", "--yes", "--since", "99999999999d"]),
        # --url: an endpoint URL, not any text (a typo must not be "tested" or redelivered to)
        ("test-url-not-a-url", ["webhooks", "test", "--url", "not a url", "--yes"]),
        ("test-url-ftp", ["webhooks", "test", "--url", "ftp://example.com/hook", "--yes"]),
        ("test-url-no-host", ["webhooks", "test", "--url", "http://", "--yes"]),
        ("test-url-bad-port", ["webhooks", "test", "--url", "http://127.0.0.1:99999/hook", "--yes"]),
        ("test-url-credentials", ["webhooks", "test", "--url", "https://u:p@example.com/hook", "--yes"]),
        ("replay-url-space", ["webhooks", "replay", "PSK-MISSED-0001", "--url", "http://exa mple.com/h", "--yes"]),
        ("retry-url-huge", ["webhooks", "retry-failed", "--yes", "--url", "http://a.test/" + "x" * 3000]),
        ("serve-latency-overflow", ["sandbox", "serve", "--latency-ms", "9" * 12]),
        ("serve-retry-after-overflow", ["sandbox", "serve", "--retry-after", "99999999"]),
        ("serve-seed-overflow", ["sandbox", "serve", "--seed", "9" * 30]),
    ]
]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Paths for the --file cases: everything but one regular JSON file of sane size."""
    folder = tmp_path_factory.mktemp("bodies")
    regular = folder / "event.json"
    regular.write_text('{"event": "charge.success", "data": {}}')
    fifo = folder / "fifo"
    os.mkfifo(fifo)  # no writer: a blocking open or read would hang the command
    (folder / "big.json").write_bytes(b'{"a": "' + b"x" * (1024 * 1024) + b'"}')
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "deep-object.json").write_text('{"a":' * 200 + "1" + "}" * 200)
    (folder / "not-json.json").write_text("event=charge.success")
    (folder / "array.json").write_text("[1, 2]")
    (folder / "latin1.json").write_bytes(b'{"a": "\xe9\xff"}')
    (folder / "empty.json").write_bytes(b"")
    return {
        "directory": str(folder),
        "dev-zero": "/dev/zero",
        "dev-null": "/dev/null",
        "fifo": str(fifo),
        "under-a-file": str(regular / "x.json"),
        "missing": str(folder / "missing.json"),
        "empty-path": "",
        "blank-path": "   ",
        "too-big": str(folder / "big.json"),
        "deep-array": str(folder / "deep.json"),
        "deep-object": str(folder / "deep-object.json"),
        "not-json": str(folder / "not-json.json"),
        "json-array": str(folder / "array.json"),
        "not-utf8": str(folder / "latin1.json"),
        "empty-file": str(folder / "empty.json"),
    }


FILE_CASES = [
    pytest.param(command, name, id=f"{command}-{name}")
    for command in ("sign", "verify-signature")
    for name in (
        "directory",
        "dev-zero",
        "dev-null",
        "fifo",
        "under-a-file",
        "missing",
        "empty-path",
        "blank-path",
        "too-big",
        "deep-array",
        "deep-object",
        "not-json",
        "json-array",
        "not-utf8",
        "empty-file",
    )
]


@pytest.fixture(scope="module")
def sandbox_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seeded sandbox for the module (each case checks it is unchanged)."""
    from proaudit_ops.sandbox.home import ensure_sandbox

    home = tmp_path_factory.mktemp("hostile-home")
    ensure_sandbox(home / "sandbox.db").dispose()
    return home


@pytest.fixture
def shared(sandbox_home: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PROAUDIT_HOME", str(sandbox_home))
    return sandbox_home / "sandbox.db"


def _digest(db: Path) -> str:
    """The watched tables' rows (sorted) and the number of `applied` audit records."""
    digest = hashlib.sha256()
    with closing(sqlite3.connect(db)) as conn:
        for table in WATCHED:
            rows = sorted(repr(row) for row in conn.execute(f"SELECT * FROM {table}"))
            digest.update(f"{table}:{len(rows)}:{rows}".encode())
        (applied,) = conn.execute("SELECT count(*) FROM ops_audit_log WHERE outcome = 'applied'").fetchone()
        digest.update(f"applied:{applied}".encode())
    return digest.hexdigest()


def _messages(stderr: str) -> list[str]:
    """stderr without the sandbox banner (printed by every sandbox command)."""
    return [line for line in stderr.splitlines() if not line.startswith("proaudit: sandbox mode")]


def _assert_refused(proaudit: Invoke, db: Path, args: list[str]) -> str:
    before = _digest(db)
    ran = proaudit(*args)
    lines = _messages(ran.stderr)
    assert ran.exit_code == 2, (ran.exit_code, ran.stderr, ran.stdout[-500:])
    assert "Traceback" not in ran.stderr + ran.stdout
    assert len(lines) == 1 and lines[0].startswith("error: "), ran.stderr
    assert "internal error" not in lines[0]
    assert _digest(db) == before, "a hostile input changed the sandbox database"
    return lines[0]


@pytest.mark.parametrize("args", _reference_cases())
def test_hostile_reference_is_refused(proaudit: Invoke, shared: Path, args: list[str]) -> None:
    _assert_refused(proaudit, shared, args)


@pytest.mark.parametrize("args", NUMBER_CASES)
def test_hostile_number_or_duration_is_refused(proaudit: Invoke, shared: Path, args: list[str]) -> None:
    line = _assert_refused(proaudit, shared, args)
    flag = next(a.split("=")[0] for a in reversed(args) if a.startswith("--") and a not in ("--yes", "--fix"))
    assert flag in line, f"the message does not name {flag}: {line}"


@pytest.mark.parametrize(("command", "name"), FILE_CASES)
def test_hostile_file_is_refused(
    proaudit: Invoke, shared: Path, files: dict[str, str], command: str, name: str
) -> None:
    extra = ["--signature", SIGNATURE] if command == "verify-signature" else []
    line = _assert_refused(proaudit, shared, ["webhooks", command, "--file", files[name], *extra])
    assert "--file" in line or "webhook body" in line or "body" in line, line


@pytest.mark.parametrize(
    "args",
    [
        ["payments", "verify", REF + "\n"],
        ["payments", "show", ".."],
        ["webhooks", "replay", "--yes", REF + " "],
        ["payments", "status", "--since", "99999999999d"],
        ["webhooks", "retry-failed", "--hours", "2147483648000"],
        ["webhooks", "sign", "--file", "/dev/zero"],
        ["payments", "verify", REF.lower()],
    ],
    ids=["newline", "dotdot", "replay-space", "since", "hours", "dev-zero", "lower-case"],
)
def test_hostile_input_gets_the_json_error_envelope(proaudit: Invoke, shared: Path, args: list[str]) -> None:
    before = _digest(shared)
    ran = proaudit("--json", *args)
    assert ran.exit_code == 2
    envelope = json.loads(ran.stdout)
    assert envelope["exit_code"] == 2 and envelope["data"] is None
    assert envelope["status"] == "usage_error"
    assert len(envelope["errors"]) == 1 and envelope["errors"][0]["message"]
    assert _digest(shared) == before


def test_the_messages_say_what_is_wrong(proaudit: Invoke, shared: Path) -> None:
    """The hints an operator needs at 3 a.m., by hand-checked example."""
    cases = {
        (REF + " ",): ["has a trailing space", f"did you mean {REF}?"],
        (REF + "\n",): ["has a trailing newline"],
        (REF.replace("-", "\u2013", 1),): ["EN DASH (U+2013)", "'-'", f"did you mean {REF}?"],
        (REF[:4] + "\u200b" + REF[4:],): ["ZERO WIDTH SPACE (U+200B)", "invisible"],
        (REF.lower(),): [f"no payment {REF.lower()}; did you mean {REF}? references are case-sensitive"],
        ("A" * 101,): ["101 characters", "limit of 100"],
        ("..",): ["only dots"],
    }
    for (reference,), expected in cases.items():
        line = _assert_refused(proaudit, shared, ["payments", "verify", "--", reference])
        for text in expected:
            assert text in line, (reference, line)
    line = _assert_refused(proaudit, shared, ["payments", "status", "--since", "99999999999d"])
    assert "--since" in line and "1s to 3650d" in line, line
    line = _assert_refused(proaudit, shared, ["webhooks", "retry-failed", "--hours", "2147483648000"])
    assert "--hours" in line and "1 to 87600" in line, line
    line = _assert_refused(proaudit, shared, ["webhooks", "sign", "--file", "/dev/zero"])
    assert "not a regular file" in line, line
