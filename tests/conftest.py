"""Shared fixtures.

PostgreSQL and Redis are real servers (PROAUDIT_TEST_DATABASE_URL, PROAUDIT_TEST_REDIS_URL). On a
laptop without them those tests skip; in CI (CI=true) a missing server is a failure.
Every test gets an isolated environment: no config, no secrets, and a private sandbox home.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from proaudit_fixtures import Invoke, Ran, Served, serve_sandbox, served

__all__ = ["Invoke", "Ran", "Served", "serve_sandbox", "served"]  # shared with every test directory

PG_URL = os.environ.get("PROAUDIT_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PROAUDIT_TEST_REDIS_URL", "redis://127.0.0.1:6379")
IN_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")

# A recognisable fake key: the secret-leak tests assert it never reaches output.
FAKE_SECRET_KEY = "sk_test_LEAKCANARY0123456789abcdefXYZ"

_CONFIG_ENV = (
    "PAYSTACK_SECRET_KEY",
    "PAYSTACK_PUBLIC_KEY",
    "PAYSTACK_WEBHOOK_SECRET",
    "PAYSTACK_SANDBOX_MODE",
    "PAYSTACK_BASE_URL",
    "PAYSTACK_TIMEOUT_SECONDS",
    "PAYSTACK_MAX_RETRIES",
    "DATABASE_URL",
)


def _unavailable(what: str, why: object) -> None:
    message = f"{what} is not reachable: {why}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: this must run, not skip)")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No developer configuration leaks into a test; the sandbox lives in a private folder."""
    for name in list(os.environ):
        if name in _CONFIG_ENV or (name.startswith("PROAUDIT_") and not name.startswith("PROAUDIT_TEST_")):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("PROAUDIT_HOME", str(home / "proaudit"))
    monkeypatch.setenv("PROAUDIT_OPERATOR", "test-operator")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "160")
    return home / "proaudit"


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        _unavailable("PostgreSQL", exc)
    return PG_URL


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A private PostgreSQL schema for this test (search_path), dropped afterwards.

    Unqualified table names (the runbook's SQL) resolve into it, and tests can run in parallel.
    """
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = pg_server_url.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in pg_server_url else "?"
    yield f"{pg_server_url}{sep}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[object]:
    """An engine on the private schema with the billing schema created."""
    from proaudit_ops.db.engine import create_schema, make_engine

    engine = make_engine(pg_url)
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[object]:
    from proaudit_ops.db.engine import create_schema, make_engine

    engine = make_engine(f"sqlite+pysqlite:///{tmp_path / 'billing.db'}")
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["pg", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Any:
    """The test runs twice: on PostgreSQL and on SQLite (both with the billing schema)."""
    return request.getfixturevalue("pg_engine" if request.param == "pg" else "sqlite_engine")


@pytest.fixture
def fallback_path(tmp_path: Path) -> Path:
    """A private audit fallback file (JSONL) for the test."""
    return tmp_path / "audit" / "audit-fallback.jsonl"


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database of this xdist worker's own (15, 14, ...), flushed around the test."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    db = 15 - (int(worker[2:]) % 8 if worker[2:].isdigit() else 0)
    url = f"{REDIS_URL.rstrip('/')}/{db}"
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=3)
        client.ping()
    except Exception as exc:
        _unavailable("Redis", exc)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def proaudit() -> Invoke:
    """proaudit(*args, env=..., input=...) -> Ran, in-process (typer's CliRunner), against the test's
    isolated home.

    Directories with special needs (PostgreSQL variants) build on or override it.
    """

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Ran:
        from typer.testing import CliRunner

        from proaudit_ops.cli.app import app

        result = CliRunner().invoke(app, list(args), env=env, input=input, catch_exceptions=False)
        return Ran(result.exit_code, result.stdout, result.stderr)

    return run
