"""Every example in runbook/ runs against the sandbox, in order, page by page.

An example is a `$ proaudit ...` line in a ```console block; leading VAR=value words set the
environment; a trailing `# exit N` is the expected exit code (0 when absent). Lines after it in the
block, up to the next `$`, are output it promises: each must appear in what it printed on stdout or on
stderr (spaces collapsed; messages and errors go to stderr), so a page can show what to expect.

A page that looks executable but is not fails instead of being skipped: a `$ ` line outside a
```console block (in a ```bash block, or in the prose) would never run, and output in a console block
before its first command would promise nothing.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "runbook").glob("*.md"))
_EXIT_RE = re.compile(r"#\s*exit\s+(\d+)\s*$")
_ASSIGN_RE = re.compile(r"^[A-Z_][A-Z0-9_]*=")


@dataclass(frozen=True)
class Example:
    line: int
    text: str
    env: dict[str, str]
    args: list[str]
    exit_code: int
    expect: list[str] = field(default_factory=list)


def examples(page: Path) -> list[Example]:
    out: list[Example] = []
    in_console = False
    current: Example | None = None
    fence = False
    for number, raw in enumerate(page.read_text().splitlines(), start=1):
        if raw.startswith("```"):
            fence = not fence
            in_console = fence and raw.strip() == "```console"
            current = None  # output lines belong to a command of the same block
            continue
        where = f"{page.name}:{number}"
        if not in_console:
            assert not raw.lstrip().startswith("$ "), f"{where}: a command outside a ```console block never runs"
            continue
        if not raw.startswith("$ "):
            if raw.strip():
                assert current is not None, f"{where}: output before the block's first command: {raw!r}"
                current.expect.append(" ".join(raw.split()))
            continue
        command = raw[2:]
        match = _EXIT_RE.search(command)
        words = shlex.split(command, comments=True)
        env = {}
        while words and _ASSIGN_RE.match(words[0]):
            key, _, value = words.pop(0).partition("=")
            env[key] = value
        assert words and words[0] == "proaudit", f"{where}: examples run proaudit, got {command!r}"
        current = Example(number, command, env, words[1:], int(match.group(1)) if match else 0)
        out.append(current)
    return out


def test_promised_output_is_read_from_the_lines_after_a_command(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```console\n$ proaudit drill list\n  webhook-outage   Webhook outage\n$ proaudit x  # exit 2\n```\n"
    )
    first, second = examples(page)
    assert first.expect == ["webhook-outage Webhook outage"] and second.expect == [] and second.exit_code == 2


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("```bash\n$ proaudit payments stuck\n```\n", "outside a ```console block"),
        ("Run it:\n\n  $ proaudit payments stuck\n", "outside a ```console block"),
        ("```console\npending payments older than 15 min\n$ proaudit payments stuck\n```\n", "before the block"),
        ("```console\n$ ls runbook\n```\n", "examples run proaudit"),
    ],
)
def test_a_page_that_would_silently_not_run_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    page = tmp_path / "page.md"
    page.write_text(text)
    with pytest.raises(AssertionError, match=re.escape(problem)):
        examples(page)


def test_output_blocks_that_are_not_console_are_left_alone(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```crontab\n*/5 * * * * proaudit monitor check\n```\n```console\n$ proaudit drill list\n```\n")
    assert [e.args for e in examples(page)] == [["drill", "list"]]


def promised_missing(promised: list[str], stdout: str, stderr: str) -> list[str]:
    """The promised lines found in neither stream (each stream on its own, spaces collapsed)."""
    streams = [" ".join(stdout.split()), " ".join(stderr.split())]
    return [line for line in promised if not any(line in stream for stream in streams)]


def test_promised_output_is_looked_for_in_stdout_and_in_stderr() -> None:
    assert promised_missing(["applied: 2 row(s)", "error: refused"], "applied:  2 row(s)\n", "error: refused\n") == []
    assert promised_missing(["row(s) error"], "applied: 2 row(s)", "error: refused") == ["row(s) error"]


def test_there_are_runbook_pages_with_examples() -> None:
    assert len(PAGES) >= 4
    assert sum(len(examples(p)) for p in PAGES) >= 30


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_runbook_page_examples(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from proaudit_ops.cli.app import app

    monkeypatch.chdir(ROOT)  # examples name files relative to the repository
    runner = CliRunner()
    for example in examples(page):
        result = runner.invoke(app, example.args, env={**example.env}, catch_exceptions=False)
        where = f"{page.name}:{example.line}: $ {example.text}"
        assert result.exit_code == example.exit_code, (
            f"{where}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
        assert "Traceback" not in result.stderr, where
        assert (result.stdout + result.stderr).strip(), f"{where}: printed nothing"
        missing = promised_missing(example.expect, result.stdout, result.stderr)
        assert not missing, (
            f"{where}: did not print {missing}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    assert os.environ.get("PROAUDIT_HOME")  # the sandbox was the isolated one
