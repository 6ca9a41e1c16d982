"""Advisory locks are per database on PostgreSQL: ours are keyed per schema, so two billing schemas
on one server (or the tests' parallel schemas) never wait for, or refuse on, each other's locks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, text

from proaudit_ops.db.engine import advisory_key, make_engine

pytestmark = pytest.mark.postgres


@pytest.fixture
def two_schemas(pg_server_url: str) -> Iterator[tuple[Engine, Engine]]:
    import psycopg

    plain = pg_server_url.replace("+psycopg", "")
    names = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    with psycopg.connect(plain, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE SCHEMA "{name}"')
    sep = "&" if "?" in pg_server_url else "?"
    engines = [make_engine(f"{pg_server_url}{sep}options={quote(f'-csearch_path={name}')}") for name in names]
    yield engines[0], engines[1]
    for engine in engines:
        engine.dispose()
    with psycopg.connect(plain, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def _try(engine: Engine, name: str) -> bool:
    with engine.connect() as conn:
        got = bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": advisory_key(conn, name)}).scalar())
        conn.rollback()
    return got


def test_the_same_lock_name_in_two_schemas_does_not_collide(two_schemas: tuple[Engine, Engine]) -> None:
    first, second = two_schemas
    name = "proaudit:intent:refund:PSK-ELIGIBLE-0001:15000000"
    with first.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": advisory_key(holder, name)})
        try:
            assert _try(second, name)  # another schema: free
            assert not _try(first, name)  # the same schema, another session: held
        finally:
            holder.execute(text("SELECT pg_advisory_unlock_all()"))
            holder.commit()
    assert _try(first, name)


def test_keys_differ_by_schema_and_by_name(two_schemas: tuple[Engine, Engine]) -> None:
    first, second = two_schemas
    with first.connect() as a, second.connect() as b:
        assert advisory_key(a, "x") == advisory_key(a, "x")
        assert advisory_key(a, "x") != advisory_key(b, "x")
        assert advisory_key(a, "x") != advisory_key(a, "y")
