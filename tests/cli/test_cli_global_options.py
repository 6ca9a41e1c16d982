"""Issue 11 §6: global options are accepted after the subcommand as well as before it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

GLOBALS = ("--json", "--debug", "--config", "--profile", "--incident")


def test_json_after_the_subcommand(proaudit) -> None:
    ran = proaudit("payments", "verify", "PSK-OK-0001", "--json")
    assert ran.exit_code == 0, ran.stderr
    assert ran.json()["command"] == "payments verify"
    assert ran.json()["data"]["diagnosis"] == "consistent"


def test_json_after_a_usage_error_still_gets_the_envelope(proaudit) -> None:
    ran = proaudit("payments", "verify", "--json")  # the reference is missing
    assert ran.exit_code == 2
    assert ran.json()["status"] == "usage_error"


def test_debug_profile_and_config_after_the_subcommand(proaudit, tmp_path: Path) -> None:
    config = tmp_path / "proaudit.toml"
    config.write_text("[profiles.sandbox]\n")
    config.chmod(0o600)
    for extra in (["--debug"], ["--profile", "sandbox"], [f"--config={config}"], ["--config", str(config)]):
        ran = proaudit("payments", "verify", "PSK-OK-0001", *extra)
        assert ran.exit_code == 0, (extra, ran.stdout, ran.stderr)
        assert "consistent:" in ran.stdout


def test_incident_after_the_subcommand_tags_the_audit_record(proaudit) -> None:
    ran = proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--yes", "--incident", "INC-7")
    assert ran.exit_code == 0, ran.stderr
    records = proaudit("--json", "audit", "log").json()["data"]["records"]
    assert [r["incident"] for r in records] == ["INC-7"]


def test_a_subcommand_option_of_the_same_name_is_left_to_the_subcommand() -> None:
    import typer

    from proaudit_ops.cli.app import app
    from proaudit_ops.cli.groups import LazyGroup, lift_global_options

    root = typer.main.get_command(app)
    assert isinstance(root, LazyGroup)
    assert lift_global_options(root, ["payments", "verify", "X", "--json"]) == ["--json", "payments", "verify", "X"]
    assert lift_global_options(root, ["payments", "verify", "--", "--json"]) == ["payments", "verify", "--", "--json"]
    assert lift_global_options(root, ["--profile", "p", "sandbox", "status", "--incident=I", "--debug"]) == [
        "--incident=I",
        "--debug",
        "--profile",
        "p",
        "sandbox",
        "status",
    ]
    # `--since` takes a value: a value spelled like a global option stays the option's value
    assert lift_global_options(root, ["payments", "status", "--since", "--json"]) == [
        "payments",
        "status",
        "--since",
        "--json",
    ]
    if "--incident" in _own_options(root, "audit", "log"):  # its own filter, not the global tag
        assert lift_global_options(root, ["audit", "log", "--incident", "X"]) == ["audit", "log", "--incident", "X"]


def _own_options(root: object, group: str, command: str | None) -> set[str]:
    cmd = root.get_command(None, group)  # type: ignore[attr-defined]
    if command is not None:
        cmd = cmd.get_command(None, command)
    return {name for p in cmd.params if p.param_type_name == "option" for name in (*p.opts, *p.secondary_opts)}


def test_no_subcommand_reuses_a_global_option_name() -> None:
    import typer

    from proaudit_ops.cli.app import app
    from proaudit_ops.cli.groups import GROUPS

    root = typer.main.get_command(app)
    clashes = []
    for group in GROUPS:
        cmd = root.get_command(None, group)
        leaves = [None] if not hasattr(cmd, "commands") else list(cmd.commands)
        for leaf in leaves:
            own = _own_options(root, group, leaf) & set(GLOBALS)
            # `audit log --incident` filters by the same incident id the global option tags with
            if own and not (group == "audit" and leaf == "log" and own == {"--incident"}):
                clashes.append((group, leaf, sorted(own)))
    assert clashes == []


@pytest.mark.parametrize("where", ["before", "after"])
def test_sandbox_status_json_either_side(proaudit, where: str) -> None:
    args = ["--json", "sandbox", "status"] if where == "before" else ["sandbox", "status", "--json"]
    envelope = json.loads(proaudit(*args).stdout)
    assert envelope["command"] == "sandbox status"
