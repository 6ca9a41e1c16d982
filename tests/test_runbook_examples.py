"""Every example in runbook/ runs against the sandbox, in order, page by page.

An example is a `$ proaudit ...` line in a ```console block; leading VAR=value words set the
environment; a trailing `# exit N` is the expected exit code (0 when absent). Lines after it in the
block, up to the next `$`, are output it promises: each must appear in what it printed (spaces
collapsed), so a page can show what to expect.
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
    for number, raw in enumerate(page.read_text().splitlines(), start=1):
        if raw.startswith("```"):
            in_console = raw.strip() == "```console"
            current = None  # output lines belong to a command of the same block
            continue
        if in_console and current is not None and not raw.startswith("$ ") and raw.strip():
            current.expect.append(" ".join(raw.split()))
        if not in_console or not raw.startswith("$ "):
            continue
        command = raw[2:]
        match = _EXIT_RE.search(command)
        words = shlex.split(command, comments=True)
        env = {}
        while words and _ASSIGN_RE.match(words[0]):
            key, _, value = words.pop(0).partition("=")
            env[key] = value
        assert words and words[0] == "proaudit", f"{page.name}:{number}: examples run proaudit, got {command!r}"
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
        printed = " ".join((result.stdout + result.stderr).split())
        for promised in example.expect:
            assert promised in printed, f"{where}: did not print {promised!r}\n--- stdout\n{result.stdout}"
    assert os.environ.get("PROAUDIT_HOME")  # the sandbox was the isolated one
