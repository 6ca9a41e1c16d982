"""`proaudit audit log|show|verify|ship` through the CLI funnel (CliRunner, in-process).

The sub-app is mounted on a test root with the real root callback, so these tests do not
depend on how cli/app.py wires it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from proaudit_ops.audit import AuditContext, AuditEntry, AuditLog
from proaudit_ops.db.engine import create_schema, make_engine


@pytest.fixture
def cli() -> typer.Typer:
    from proaudit_ops.cli import app as root_module
    from proaudit_ops.cli import audit as audit_cli

    app = typer.Typer()
    app.callback()(root_module.root)
    app.add_typer(audit_cli.app, name="audit")
    return app


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> tuple[str, Path]:
    url = f"sqlite+pysqlite:///{tmp_path / 'billing.db'}"
    engine = make_engine(url)
    create_schema(engine)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    return url, isolated_env / "audit-fallback.jsonl"


def writer(fallback: Path, operator: str = "dayo") -> AuditLog:
    return AuditLog(AuditContext(operator, "dayo-os", "h1", "proaudit payments verify R --fix"), fallback)


def invoke(cli: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_log_show_and_json(cli: typer.Typer, db: tuple[str, Path]) -> None:
    url, fallback = db
    engine = make_engine(url)
    log = writer(fallback)
    log.append_standalone(engine, AuditEntry("payments.fix", "REF-1", "applied", before={"amount_kobo": 1}))
    log.append_standalone(engine, AuditEntry("payments.fix", "REF-2", "refused"))
    engine.dispose()

    code, out, _ = invoke(cli, "audit", "log", "--since", "1h")
    assert code == 0
    assert "REF-1" in out
    assert "REF-2" in out
    assert "dayo (os:dayo-os)" in out

    code, out, _ = invoke(cli, "--json", "audit", "log", "--target", "REF-2")
    assert code == 0
    envelope = json.loads(out)
    assert envelope["status"] == "ok"
    assert [r["seq"] for r in envelope["data"]["records"]] == [2]

    code, out, _ = invoke(cli, "audit", "show", "1")
    assert code == 0
    assert "payments.fix" in out
    assert '"amount_kobo": 1' in out

    code, _, err = invoke(cli, "audit", "show", "99")
    assert code == 2
    assert "no audit record with seq 99" in err


def test_log_rejects_a_bad_window(cli: typer.Typer, db: tuple[str, Path]) -> None:
    code, _, err = invoke(cli, "audit", "log", "--since", "yesterday")
    assert code == 2
    assert "--since" in err


def test_verify_exit_codes(cli: typer.Typer, db: tuple[str, Path]) -> None:
    url, fallback = db
    engine = make_engine(url)
    log = writer(fallback)
    for i in range(3):
        log.append_standalone(engine, AuditEntry("payments.fix", f"REF-{i}", "applied"))
    code, out, _ = invoke(cli, "audit", "verify")
    assert code == 0
    assert "3 record(s) verified" in out

    with engine.begin() as conn:
        conn.execute(text("UPDATE ops_audit_log SET target = 'REF-X' WHERE seq = 2"))
    engine.dispose()
    code, out, _ = invoke(cli, "audit", "verify")
    assert code == 1
    assert "first bad record seq 2 (edited)" in out

    code, out, _ = invoke(cli, "--json", "audit", "verify")
    assert code == 1
    data = json.loads(out)["data"]
    assert data["table"]["first_bad_seq"] == 2
    assert data["table"]["problem"] == "edited"


def test_verify_file_and_ship(cli: typer.Typer, db: tuple[str, Path]) -> None:
    _url, fallback = db
    log = writer(fallback)
    log.append_standalone(None, AuditEntry("recovery.maintenance", "on", "applied"))
    log.append_standalone(None, AuditEntry("recovery.maintenance", "off", "applied"))

    code, out, _ = invoke(cli, "audit", "verify", "--file", str(fallback))
    assert code == 0
    assert "2 record(s) verified" in out

    code, out, _ = invoke(cli, "audit", "verify")
    assert code == 0
    assert "audit ship" in out

    code, out, _ = invoke(cli, "audit", "ship")
    assert code == 0, out
    assert "shipped 2 record(s) as seq 1..2" in out
    assert not fallback.exists()

    code, out, _ = invoke(cli, "audit", "ship")
    assert code == 0
    assert "nothing to ship" in out

    code, out, _ = invoke(cli, "audit", "verify")
    assert code == 0
    assert "3 record(s) verified" in out


def test_verify_file_broken(cli: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    log = writer(path)
    log.append_standalone(None, AuditEntry("x.y", "a", "planned"))
    log.append_standalone(None, AuditEntry("x.y", "b", "planned"))
    path.write_text(path.read_text().replace('"target":"b"', '"target":"c"'))
    code, out, _ = invoke(cli, "audit", "verify", "--file", str(path))
    assert code == 1
    assert "line 2" in out


# -- issue 11 section 5: incidents, bounds, checkpoints ------------------------------------------


def one_error_line(err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("proaudit: sandbox")]
    assert len(lines) == 1, err
    assert lines[0].startswith("error:"), err
    assert "Traceback" not in err


def test_log_of_an_incident_has_no_default_window_and_the_global_incident_filters(
    cli: typer.Typer, db: tuple[str, Path]
) -> None:
    url, fallback = db
    engine = make_engine(url)
    old = AuditLog(AuditContext("dayo", "dayo-os", "h1", "proaudit x", incident="INC-OLD"), fallback)
    old.append_standalone(engine, AuditEntry("payments.fix", "REF-OLD", "applied"))
    with engine.begin() as conn:  # three days ago (listing does not verify the chain)
        conn.execute(text("UPDATE ops_audit_log SET ts = :ts WHERE seq = 1"), {"ts": "2026-01-01 10:00:00.000000"})
    writer(fallback).append_standalone(engine, AuditEntry("payments.fix", "REF-NEW", "applied"))
    engine.dispose()

    code, out, _ = invoke(cli, "audit", "log", "--incident", "INC-OLD")
    assert code == 0
    assert "REF-OLD" in out and "REF-NEW" not in out
    code, out, _ = invoke(cli, "--incident", "INC-OLD", "audit", "log")
    assert code == 0
    assert "REF-OLD" in out and "REF-NEW" not in out
    code, out, _ = invoke(cli, "audit", "log")  # no incident: the last 24 hours
    assert "REF-NEW" in out and "REF-OLD" not in out
    code, out, _ = invoke(cli, "audit", "log", "--incident", "INC-OLD", "--since", "1d")  # both: both apply
    assert "no audit records of incident INC-OLD" in out


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "show", "99999999999999999999"],
        ["audit", "show", "0"],
        ["audit", "show", "9223372036854775808"],
        ["audit", "log", "--limit", "0"],
        ["audit", "log", "--limit", "99999999999999999999"],
        ["audit", "log", "--since", "99999999999d"],
        ["audit", "log", "--since", "36501d"],
        ["audit", "log", "--since", "0s"],
    ],
)
def test_numbers_out_of_range_are_one_line_and_exit_2(cli: typer.Typer, db: tuple[str, Path], args: list[str]) -> None:
    code, _, err = invoke(cli, *args)
    assert code == 2, err
    one_error_line(err)


def test_checkpoint_and_verify_against_it(cli: typer.Typer, db: tuple[str, Path], isolated_env: Path) -> None:
    url, fallback = db
    engine = make_engine(url)
    log = writer(fallback)
    for i in range(4):
        log.append_standalone(engine, AuditEntry("payments.fix", f"REF-{i}", "applied"))

    code, out, err = invoke(cli, "audit", "checkpoint")
    assert code == 0, err
    assert "seq 4" in out and "4 record(s)" in out
    code, out, _ = invoke(cli, "audit", "verify")
    assert code == 0
    assert "matches the checkpoint" in out

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM ops_audit_log WHERE seq = 4"))
    engine.dispose()
    code, out, _ = invoke(cli, "audit", "verify")
    assert code == 1
    assert "truncated" in out and "record 4 was removed" in out
    code, out, _ = invoke(cli, "--json", "audit", "verify")
    assert json.loads(out)["data"]["checkpoint"]["problem"] == "truncated"
    code, _, err = invoke(cli, "audit", "checkpoint")
    assert code == 4
    one_error_line(err)

    kept = isolated_env / "audit-checkpoints.jsonl"
    code, _, err = invoke(cli, "audit", "verify", "--checkpoint", str(kept.with_name("missing.jsonl")))
    assert code == 2
    one_error_line(err)
    line = json.loads(kept.read_text())
    line["seq"] = 3
    kept.write_text(json.dumps(line) + "\n")
    code, _, err = invoke(cli, "audit", "verify", "--checkpoint", str(kept))
    assert code == 4
    assert "not trusted" in err
    one_error_line(err)


def test_the_configured_interval_writes_checkpoints_through_the_runtime(
    cli: typer.Typer, db: tuple[str, Path], isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _url, fallback = db
    log = writer(fallback)
    log.append_standalone(None, AuditEntry("recovery.maintenance", "on", "applied"))
    log.append_standalone(None, AuditEntry("recovery.maintenance", "off", "applied"))
    monkeypatch.setenv("PROAUDIT_CHECKPOINT_EVERY", "2")
    monkeypatch.setenv("PROAUDIT_CHECKPOINT_PATH", str(isolated_env / "cp.jsonl"))
    code, _, err = invoke(cli, "audit", "ship")  # seq 1, 2 shipped and 3 (audit.ship): one transaction
    assert code == 0, err
    lines = (isolated_env / "cp.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [2]
    code, out, _ = invoke(cli, "audit", "verify", "--checkpoint", str(isolated_env / "cp.jsonl"))
    assert code == 0
    assert "matches the checkpoint" in out
