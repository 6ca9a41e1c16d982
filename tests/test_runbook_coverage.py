"""The coverage table in runbook/README.md lists every step of the original runbook, and every command it
names exists: its group and command resolve in the Typer app, it takes as many arguments as the cell
gives it, every `--option` the cell names is one of its own (or a global one), and `--help` exits 0.
No row is left "in progress"."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
ORIGINAL = ROOT / "tests" / "data" / "billing-incident-runbook.md"
README = ROOT / "runbook" / "README.md"
_WORD = re.compile(r"^[a-z][a-z0-9-]*$")


def _plain(text: str) -> str:
    return text.replace("**", "").replace("`", "").strip().rstrip(":").strip()


def original_steps(text: str) -> list[tuple[str, str]]:
    """(section, step) for every step of the runbook.

    A step is a numbered item or a bold-only line (`**For stuck transactions:**`) outside code; in the
    monitoring sections a metric row, an alert rule or a dashboard link; in Useful Commands each commented
    command. A section (## or ###) with content but no such step is one step named after itself.

    The parts of a step are steps too, named `STEP / PART`: each indented bullet under it
    (`   - Check https://status.paystack.com`) and each commented command of its shell or SQL blocks
    (`# Check Redis`, `-- Convert trial to paid`). Python blocks are code to replace, not steps.
    """
    out: list[tuple[str, str]] = []
    section: str | None = None
    parent: str | None = None  # the numbered item or bold line the parts belong to
    language = ""  # of the open fence
    body = fence = False
    found = 0

    def add(step: str) -> None:
        nonlocal found
        out.append((section or "", step if parent is None else f"{parent} / {step}"))
        found += 1

    def close() -> None:
        if section and body and not found:
            out.append((section, section))

    for raw in text.splitlines():
        line = raw.rstrip()
        if line.lstrip().startswith("```"):  # at column 0 or indented under a numbered item
            fence = not fence
            language = line.lstrip()[3:].strip() if fence else ""
            body = body or section is not None
            continue
        if fence:
            comment = re.match(r"^\s*(?:#|--)\s+(.+)$", line)
            alert = re.match(r"^\s*- alert:\s*(\S+)", line)
            if comment and section and language in ("bash", "sql"):
                add(comment.group(1).strip())
            elif alert and section:
                out.append((section, alert.group(1)))
                found += 1
            continue
        heading = re.match(r"^(#{1,4})\s+(.+)$", line)
        if heading:
            if len(heading.group(1)) in (2, 3):
                close()
                section, body, found = heading.group(2).strip(), False, 0
            parent = None  # a #### Symptoms or Diagnostic Steps heading starts afresh too
            continue
        if section in (None, "Table of Contents"):
            continue
        body = body or bool(line.strip() and line.strip() != "---")
        item = re.match(r"^\d+\.\s+(.+)$", line) or re.match(r"^\*\*(.+?)\*\*$", line)
        part = re.match(r"^\s+- (.+)$", line)
        metric = re.match(r"^\|\s*([^|]+?)\s*\|", line)
        link = re.match(r"^- ([^:]+):", line)
        if item:
            step = _plain(item.group(1))
            out.append((section, step))
            found += 1
            parent = step
        elif part and parent is not None:
            add(_plain(part.group(1)))
        elif metric and section == "Key Metrics to Monitor" and metric.group(1) != "Metric":
            if set(metric.group(1)) <= {"-"}:
                continue
            out.append((section, metric.group(1)))
            found += 1
        elif link and section == "Dashboard Links":
            out.append((section, link.group(1)))
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


def named_spans(cell: str) -> list[list[str]]:
    """Every `proaudit ...` of a cell as its words, placeholders and options included."""
    return [shlex.split(code) for code in re.findall(r"`proaudit ([^`]+)`", cell)]


def option_spans(cell: str) -> list[str]:
    """The options a cell names on their own, beside a command: (`--downgrade`, `--cancel-at-period-end`)."""
    return [code.split()[0].split("=")[0] for code in re.findall(r"`(--[a-z][^`]*)`", cell)]


def _options(command: Any) -> set[str]:
    return {name for p in command.params if p.param_type_name == "option" for name in (*p.opts, *p.secondary_opts)}


def resolve(words: list[str]) -> tuple[Any, list[str], list[str]]:
    """The Click command `proaudit WORDS...` runs, its group/command path, and what is wrong with WORDS."""
    import typer

    from proaudit_ops.cli.app import app

    root = typer.main.get_command(app)
    command: Any = root
    path: list[str] = []
    positional: list[str] = []
    problems: list[str] = []
    for word in words:
        if word.startswith("-"):
            break
        if hasattr(command, "get_command") and not positional:
            sub = command.get_command(None, word)
            if sub is None:
                problems.append(f"no command {' '.join([*path, word])!r}")
                return command, path, problems
            command, path = sub, [*path, word]
        else:
            positional.append(word)
    if hasattr(command, "get_command"):
        problems.append(f"{' '.join(path) or 'proaudit'} is a group, not a command")
        return command, path, problems
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    if not any(p.nargs == -1 for p in arguments) and len(positional) > len(arguments):
        problems.append(f"{' '.join(path)} takes {len(arguments)} argument(s), the cell gives {positional}")
    known = _options(command) | _options(root)
    problems += [f"{' '.join(path)} has no option {word}" for word in words if _is_option(word, known)]
    return command, path, problems


def _is_option(word: str, known: set[str]) -> bool:
    return word.startswith("-") and len(word) > 1 and word.split("=")[0] not in known


def test_the_parser_finds_the_runbook_sections_and_steps() -> None:
    steps = original_steps(ORIGINAL.read_text())
    assert len(steps) >= 70
    assert ("Payment Failures", "Update transaction status in database if confirmed") in steps
    assert ("Full Billing System Recovery", "Customer Communication") in steps
    assert ("Useful Commands", "Generate billing reconciliation report") in steps
    assert ("Escalation Matrix", "Escalation Matrix") in steps
    assert len({s for s, _ in steps}) >= 18
    # the parts of a step: its indented bullets and the commented commands of its shell and SQL blocks
    assert ("Payment Failures", "Verify Paystack API Status / Check https://status.paystack.com") in steps
    assert ("Payment Failures", "Database Check / Check for stuck pending transactions") in steps
    assert ("Refund Processing", "Check Refund Eligibility / Payment must be within 30 days") in steps
    assert ("Refund Processing", "Process Refund via Paystack / Partial refund") in steps
    assert ("Full Billing System Recovery", "Assess Scope / Check Redis") in steps
    assert ("Full Billing System Recovery", "Customer Communication / Update social media if prolonged") in steps
    assert ("Subscription Issues", "For trial conversion / Convert trial to paid") in steps
    # symptoms are not steps, nor the comments of the Python snippets the commands replace
    assert not [s for s in steps if "Customer unable to complete checkout" in s[1]]
    assert not [s for s in steps if "Process specific transaction" in s[1]]


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
        for words in named_spans(cell):
            seen[" ".join(words)] = words
    return list(seen.values())


@pytest.mark.parametrize("words", _all_commands(), ids=lambda w: " ".join(w))
def test_every_command_in_the_table_exists(words: list[str]) -> None:
    from proaudit_ops.cli.app import app

    _command, path, problems = resolve(words)
    assert not problems, f"`proaudit {' '.join(words)}`: " + "; ".join(problems)
    ran = CliRunner().invoke(app, [*path, "--help"], catch_exceptions=False)
    assert ran.exit_code == 0, f"proaudit {' '.join(path)} --help: {ran.stdout}{ran.stderr}"
    assert "Usage:" in ran.stdout


def test_every_option_named_beside_a_command_is_one_of_its_own() -> None:
    wrong = []
    for (section, step), cell in coverage_rows().items():
        commands = [resolve(words)[0] for words in named_spans(cell)]
        for option in option_spans(cell):
            if commands and not any(option in _options(c) for c in commands):
                wrong.append(f"{section} | {step}: {option}")
    assert not wrong, "options no command of their cell has:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("words", "problem"),
    [
        (["payments", "verifi", "REFERENCE"], "no command 'payments verifi'"),
        (["payments", "verify", "REFERENCE", "--fixx"], "has no option --fixx"),
        (["webhooks", "verify-signature", "FILE"], "takes 0 argument(s)"),
        (["recovery", "maintenance"], "is a group, not a command"),
    ],
)
def test_a_wrong_command_in_the_table_is_named(words: list[str], problem: str) -> None:
    assert any(problem in p for p in resolve(words)[2])


def test_a_right_command_with_placeholders_and_global_options_resolves() -> None:
    assert resolve(["payments", "verify", "REFERENCE", "--fix", "--json"])[1:] == (["payments", "verify"], [])
    assert resolve(["drill", "run", "webhook-outage"])[1:] == (["drill", "run"], [])


def test_no_row_is_in_progress_and_the_payment_link_has_its_command() -> None:
    rows = coverage_rows()
    assert not [cell for cell in rows.values() if "in progress" in cell]
    assert ["dunning", "link"] in named_commands(rows[("Dunning/Collection Issues", "Manual Payment Link")])
