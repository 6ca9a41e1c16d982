"""`proaudit apply FILE`, the plan diff and the confirmation prompt."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from sqlalchemy import Connection, Engine
from typer.testing import CliRunner

from proaudit_ops.audit import AuditContext, AuditLog
from proaudit_ops.cli.confirm import confirm
from proaudit_ops.cli.plan_view import render_plan
from proaudit_ops.db.engine import create_schema, make_engine
from proaudit_ops.protocols.guard import ApplyOptions, ChangeGuard
from proaudit_ops.protocols.plan import Plan, RowChange
from proaudit_ops.protocols.plan_auth import home_plan_key
from proaudit_ops.timeutil import utcnow

Builder = Callable[..., Callable[[Connection], Plan]]


@pytest.fixture
def cli() -> typer.Typer:
    from proaudit_ops.cli import app as root_module
    from proaudit_ops.cli import audit as audit_cli

    app = typer.Typer()
    app.callback()(root_module.root)
    app.command("apply")(audit_cli.apply_command)
    app.command("noop", hidden=True)(lambda: None)  # keep `apply` a subcommand
    return app


@pytest.fixture
def sqlite_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    url = f"sqlite+pysqlite:///{tmp_path / 'billing.db'}"
    engine = make_engine(url)
    create_schema(engine)
    monkeypatch.setenv("DATABASE_URL", url)
    return engine


def saved_plan(
    engine: Engine, seed: Any, builder: Builder, path: Path, count: int, home: Path | None = None
) -> list[str]:
    refs: list[str] = seed(engine, count)
    log = AuditLog(
        AuditContext("ngozi", "ngozi", "h", "proaudit payments stuck --fix"),
        path.parent / "f.jsonl",
    )
    key_home = home or Path(os.environ["PROAUDIT_HOME"])  # the CLI's key: the same home
    guard = ChangeGuard(
        engine, log, lock_timeout_ms=500, statement_timeout_ms=5000, plan_key=lambda: home_plan_key(key_home)
    )
    guard.execute(builder(guard, refs), ApplyOptions(plan_out=path), lambda _p: False)
    return refs


def test_apply_file_yes_then_stale(
    cli: typer.Typer, sqlite_db: Engine, seed: Any, builder: Builder, payments: Any, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    refs = saved_plan(sqlite_db, seed, builder, plan_file, 2)
    runner = CliRunner()

    result = runner.invoke(cli, ["apply", str(plan_file)])
    assert result.exit_code == 4
    assert "no terminal to confirm on" in result.stderr

    result = runner.invoke(cli, ["apply", str(plan_file), "--dry-run", "--show-sql"])
    assert result.exit_code == 0, result.stderr
    assert "UPDATE payment_transactions SET" in result.stdout
    assert {row["status"] for row in payments(sqlite_db, refs).values()} == {"pending"}

    result = runner.invoke(cli, ["apply", str(plan_file), "--yes"])
    assert result.exit_code == 0, result.stderr
    assert "applied" in result.stdout
    assert {row["status"] for row in payments(sqlite_db, refs).values()} == {"success"}

    result = runner.invoke(cli, ["apply", str(plan_file), "--yes"])
    assert result.exit_code == 4
    assert "stale plan" in result.stderr


def test_apply_hand_edited_file_is_refused(
    cli: typer.Typer, sqlite_db: Engine, seed: Any, builder: Builder, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    saved_plan(sqlite_db, seed, builder, plan_file, 1)
    plan_file.write_text(plan_file.read_text().replace('"status": "success"', '"status": "reversed"'))
    result = CliRunner().invoke(cli, ["apply", str(plan_file), "--yes"])
    assert result.exit_code == 4
    assert "plan file was changed" in result.stderr


def test_apply_missing_file_is_a_usage_error(cli: typer.Typer, sqlite_db: Engine, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["apply", str(tmp_path / "none.json"), "--yes"])
    assert result.exit_code == 2
    assert "plan file" in result.stderr and "no such file" in result.stderr


def money_plan(rows: int) -> Plan:
    changes = tuple(
        RowChange(
            table="payment_transactions",
            key={"id": f"id-{i}"},
            guards={"status": "success"},
            new_values={"refund_amount_kobo": 15_000_000, "status": "refunded"},
            before={"refund_amount_kobo": None, "status": "success", "currency": "NGN"},
            label=f"REF-{i}",
        )
        for i in range(rows)
    )
    return Plan("refunds.issue", "customer asked", changes, utcnow(), "REF-0" if rows == 1 else "bulk")


def test_plan_view_shows_money_in_both_forms() -> None:
    buffer = io.StringIO()
    render_plan(money_plan(1), Console(file=buffer, width=200, no_color=True))
    out = buffer.getvalue()
    assert "15000000 kobo = ₦150,000.00" in out
    assert "payment_transactions REF-0" in out
    assert "NULL" in out
    assert "status = success" in out


@pytest.mark.parametrize(
    ("rows", "typed", "expected"),
    [
        (1, "y\n", True),
        (1, "YES\n", True),
        (1, "\n", False),
        (1, "n\n", False),
        (1, "", False),
        (3, "3\n", True),
        (3, "y\n", False),
        (3, "2\n", False),
        (3, "", False),
    ],
)
def test_confirm_prompt(
    rows: int,
    typed: str,
    expected: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))
    assert confirm(money_plan(rows)) is expected
    err = capsys.readouterr().err
    assert (f"Type {rows} to apply" in err) if rows > 1 else ("[y/N]" in err)


@pytest.mark.parametrize("kind", ["directory", "dev-zero", "fifo", "deep-json", "huge"])
def test_apply_refuses_what_is_not_a_plan_file_with_one_line(
    cli: typer.Typer, sqlite_db: Engine, tmp_path: Path, kind: str
) -> None:
    from proaudit_ops.files import MAX_PLAN_BYTES

    target = tmp_path / "plan.json"
    if kind == "directory":
        target.mkdir()
    elif kind == "dev-zero":
        target = Path("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(target)  # nobody writes: reading it must not hang
    elif kind == "deep-json":
        target.write_text("[" * 100_000 + "]" * 100_000)
    else:
        target.write_bytes(b" " * (MAX_PLAN_BYTES + 1))
    result = CliRunner().invoke(cli, ["apply", str(target), "--yes"])
    assert result.exit_code == 2, result.stderr
    assert "plan file" in result.stderr
    assert "Traceback" not in result.stderr
