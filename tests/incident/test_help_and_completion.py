"""`proaudit help TOPIC` (one source, the README agrees), `proaudit completion SHELL`, examples in --help."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from proaudit_ops.cli.help_topics import EXIT_CODES
from proaudit_ops.errors import ExitCode

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_exit_rows() -> dict[int, tuple[str, str]]:
    section = README.read_text().split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.finditer(r"^\| (\d+) \| (.+) \| (.+) \|$", section, flags=re.M)
    return {int(m.group(1)): (m.group(2).strip(), m.group(3).strip()) for m in rows}


def test_exit_code_page_readme_and_enum_agree() -> None:
    """The help page, the README's table, the enum and the --json status names: one set of facts."""
    from proaudit_ops.cli.output import STATUS_BY_CODE

    assert [code for code, *_ in EXIT_CODES] == sorted(int(c) for c in ExitCode)
    readme = _readme_exit_rows()
    assert sorted(readme) == [code for code, *_ in EXIT_CODES]
    for code, status, meaning, cron in EXIT_CODES:
        assert readme[code] == (meaning, cron), code
        assert STATUS_BY_CODE[ExitCode(code)] == status


@pytest.mark.parametrize("topic", ["exit-codes", "configuration", "mutation-protocol", "config"])
def test_help_topics_print_plain_text(proaudit: Any, topic: str) -> None:
    ran = proaudit("help", topic)
    assert ran.exit_code == 0, ran.stderr
    assert ran.stdout.strip()
    assert "\x1b[" not in ran.stdout


def test_exit_code_page_lists_every_code(proaudit: Any) -> None:
    out = proaudit("help", "exit-codes").stdout
    for code, _name, meaning, _cron in EXIT_CODES:
        assert re.search(rf"^\s*{code}\s+{re.escape(meaning)}", out, flags=re.M), code


def test_configuration_page_lists_every_setting(proaudit: Any) -> None:
    from proaudit_ops.config import Settings

    out = proaudit("help", "configuration").stdout
    for name in Settings.model_fields:
        assert name.upper() in out
    assert "sk_test_" not in out  # defaults only, secrets never


def test_unknown_topic_is_exit_2(proaudit: Any) -> None:
    ran = proaudit("help", "nope")
    assert ran.exit_code == 2
    assert "one of: exit-codes, configuration, mutation-protocol" in ran.stderr


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(proaudit: Any, shell: str) -> None:
    ran = proaudit("completion", shell)
    assert ran.exit_code == 0
    assert "_PROAUDIT_COMPLETE" in ran.stdout and "proaudit" in ran.stdout


def test_completion_of_an_unknown_shell_is_exit_2(proaudit: Any) -> None:
    assert proaudit("completion", "tcsh").exit_code == 2


def test_the_shell_gets_subcommands_back() -> None:
    """What the bash script does on Tab: call proaudit with the completion variables set."""
    exe = str(Path(sys.executable).with_name("proaudit"))
    env = {**os.environ, "_PROAUDIT_COMPLETE": "complete_bash", "COMP_WORDS": "proaudit incident o", "COMP_CWORD": "2"}
    out = subprocess.run([exe], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["open"]
    env.update(COMP_WORDS="proaudit lo", COMP_CWORD="1")
    assert subprocess.run([exe], env=env, capture_output=True, text=True, timeout=60).stdout.split() == ["logs"]


def _commands() -> list[list[str]]:
    import typer

    from proaudit_ops.cli.app import app
    from proaudit_ops.cli.groups import GROUPS, LazyGroup

    root = typer.main.get_command(app)
    assert isinstance(root, LazyGroup)
    found: list[list[str]] = []
    for name in GROUPS:
        command = root.get_command(None, name)
        subs = getattr(command, "commands", None)
        if subs:
            found += [[name, sub] for sub in subs]
        else:
            found.append([name])
    return found


# subscriptions.py is another engineer's module this wave: its commands get their examples there.
NOT_YET = {"subscriptions"}


@pytest.mark.parametrize("path", [p for p in _commands() if p[0] not in NOT_YET], ids=" ".join)
def test_every_command_help_has_examples(proaudit: Any, path: list[str]) -> None:
    ran = proaudit(*path, "--help")
    assert ran.exit_code == 0
    examples = ran.stdout.split("Examples:", 1)
    assert len(examples) == 2, f"proaudit {' '.join(path)} --help has no Examples"
    assert re.search(rf"^\s+proaudit .*{re.escape(path[-1])}", examples[1], flags=re.M) or path == ["apply"]
