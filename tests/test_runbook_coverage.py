"""The coverage table in runbook/README.md lists every step of the original runbook, and every command it
names exists (`proaudit GROUP CMD --help` exits 0); no row is left "in progress"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
ORIGINAL = ROOT / "tests" / "data" / "billing-incident-runbook.md"
README = ROOT / "runbook" / "README.md"
_WORD = re.compile(r"^[a-z][a-z0-9-]*$")


def original_steps(text: str) -> list[tuple[str, str]]:
    """(section, step) for every step of the runbook.

    A step is a numbered item or a bold-only line (`**For stuck transactions:**`) outside code; in the
    monitoring sections a metric row, an alert rule or a dashboard link; in Useful Commands each commented
    command. A section (## or ###) with content but no such step is one step named after itself.
    """
    out: list[tuple[str, str]] = []
    section: str | None = None
    body = fence = False
    found = 0

    def close() -> None:
        if section and body and not found:
            out.append((section, section))

    for raw in text.splitlines():
        line = raw.rstrip()
        if line.startswith("```"):  # a fence at column 0 (indented ones are read as text: nothing matches)
            fence = not fence
            body = body or section is not None
            continue
        if fence:
            comment = re.match(r"^#\s+(.+)$", line)
            alert = re.match(r"^\s*- alert:\s*(\S+)", line)
            if comment and section == "Useful Commands":
                out.append((section, comment.group(1).strip()))
                found += 1
            elif alert and section:
                out.append((section, alert.group(1)))
                found += 1
            continue
        heading = re.match(r"^(#{1,4})\s+(.+)$", line)
        if heading:
            if len(heading.group(1)) in (2, 3):
                close()
                section, body, found = heading.group(2).strip(), False, 0
            continue
        if section in (None, "Table of Contents"):
            continue
        body = body or bool(line.strip() and line.strip() != "---")
        item = re.match(r"^\d+\.\s+(.+)$", line) or re.match(r"^\*\*(.+?)\*\*$", line)
        metric = re.match(r"^\|\s*([^|]+?)\s*\|", line)
        link = re.match(r"^- ([^:]+):", line)
        if item:
            step = item.group(1).replace("**", "").replace("`", "").strip().rstrip(":").strip()
        elif metric and section == "Key Metrics to Monitor" and metric.group(1) != "Metric":
            if set(metric.group(1)) <= {"-"}:
                continue
            step = metric.group(1)
        elif link and section == "Dashboard Links":
            step = link.group(1)
        else:
            continue
        out.append((section, step))
        found += 1
    close()
    return out


def coverage_rows() -> dict[tuple[str, str], str]:
    text = README.read_text()
    table = text[text.index("## Coverage") :]
    rows: dict[tuple[str, str], str] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("section", "---"):
            continue
        rows[(cells[0], cells[1])] = cells[2]
    return rows


def named_commands(cell: str) -> list[list[str]]:
    """The group/command words of each `proaudit ...` in a cell (up to the first option or placeholder)."""
    out = []
    for code in re.findall(r"`proaudit ([^`]+)`", cell):
        words: list[str] = []
        for word in code.split():
            if not _WORD.match(word):
                break
            words.append(word)
        out.append(words)
    return out


def test_the_parser_finds_the_runbook_sections_and_steps() -> None:
    steps = original_steps(ORIGINAL.read_text())
    assert len(steps) >= 70
    assert ("Payment Failures", "Update transaction status in database if confirmed") in steps
    assert ("Full Billing System Recovery", "Customer Communication") in steps
    assert ("Useful Commands", "Generate billing reconciliation report") in steps
    assert ("Escalation Matrix", "Escalation Matrix") in steps
    assert len({s for s, _ in steps}) >= 18


def test_every_step_of_the_original_runbook_is_in_the_coverage_table() -> None:
    rows = coverage_rows()
    missing = [
        f"{section} | {step}" for section, step in original_steps(ORIGINAL.read_text()) if (section, step) not in rows
    ]
    assert not missing, "steps without a row in runbook/README.md's coverage table:\n" + "\n".join(missing)
    extra = set(rows) - set(original_steps(ORIGINAL.read_text()))
    assert not extra, f"rows that name no step of the runbook: {sorted(extra)}"


def test_every_row_names_a_command_or_a_reason() -> None:
    for (section, step), cell in coverage_rows().items():
        assert named_commands(cell) or "manual:" in cell, f"{section} | {step}: {cell!r}"
        if "manual:" in cell:
            reason = cell.split("manual:", 1)[1].strip()
            assert len(reason) >= 10, f"{section} | {step}: say why it stays manual"


def _all_commands() -> list[list[str]]:
    seen: dict[str, list[str]] = {}
    for cell in coverage_rows().values():
        for words in named_commands(cell):
            seen[" ".join(words)] = words
    return list(seen.values())


@pytest.mark.parametrize("words", _all_commands(), ids=lambda w: " ".join(w))
def test_every_command_in_the_table_exists(words: list[str]) -> None:
    from proaudit_ops.cli.app import app

    ran = CliRunner().invoke(app, [*words, "--help"], catch_exceptions=False)
    assert ran.exit_code == 0, f"proaudit {' '.join(words)} --help: {ran.stdout}{ran.stderr}"
    assert "Usage:" in ran.stdout


def test_no_row_is_in_progress_and_the_payment_link_has_its_command() -> None:
    rows = coverage_rows()
    assert not [cell for cell in rows.values() if "in progress" in cell]
    assert ["dunning", "link"] in named_commands(rows[("Dunning/Collection Issues", "Manual Payment Link")])
