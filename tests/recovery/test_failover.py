"""A real failover: a primary and a streaming replica on loopback, the primary stopped, the
replica promoted by `proaudit recovery failover`, then both stopped."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_cluster import Cluster, destroy, make_cluster, wait_for
from recovery_helpers import run_process
from sqlalchemy import create_engine, text


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    made = make_cluster()
    try:
        yield made
    finally:
        destroy(made)


def scalar(url: str, sql: str) -> object:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"), connect_args={"connect_timeout": 3})
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


def test_failover_for_real(cluster: Cluster, tmp_path: Path, isolated_env: Path) -> None:
    scalar(cluster.primary_url, "CREATE TABLE billing_marker AS SELECT 42 AS answer")
    wait_for(lambda: scalar(cluster.replica_url, "SELECT answer FROM billing_marker") == 42, "replication")
    assert scalar(cluster.replica_url, "SELECT pg_is_in_recovery()") is True
    env = {
        "DATABASE_URL": cluster.primary_url,
        "PAYSTACK_SECRET_KEY": "sk_test_" + "f" * 40,
        "PAYSTACK_SANDBOX_MODE": "true",
        "PROAUDIT_AUDIT_FALLBACK_PATH": str(tmp_path / "audit.jsonl"),
    }
    args = ["recovery", "failover", "--replica", cluster.replica_url]

    # `recovery health` sees the replication from both sides.
    for url, role in ((cluster.primary_url, "primary"), (cluster.replica_url, "replica")):
        health = run_process(["--json", "recovery", "health"], {"DATABASE_URL": url})
        database = next(c for c in json.loads(health.stdout)["data"]["checks"] if c["name"] == "database")
        assert database["status"] == "ok" and database["data"]["role"] == role, database
        assert database["data"]["lag_s"] is not None and database["data"]["lag_s"] < 30
        if role == "primary":
            assert [r["state"] for r in database["data"]["replicas"]] == ["streaming"]

    # The primary still answers: promoting would make two primaries.
    refused = run_process([*args, "--yes"], env)
    assert refused.returncode == 4, refused.stderr
    assert "still answers as a primary" in refused.stderr

    cluster.stop("primary")  # the outage
    planned = run_process([*args, "--dry-run"], env)
    assert planned.returncode == 0, planned.stderr
    assert "planned" in planned.stdout and "is in recovery" in planned.stdout
    assert scalar(cluster.replica_url, "SELECT pg_is_in_recovery()") is True

    env_file = tmp_path / "billing.env"
    env_file.write_text("OTHER=kept\nDATABASE_URL=postgresql://old@db:5432/x\n")
    done = run_process([*args, "--env-file", str(env_file), "--yes"], env)
    assert done.returncode == 0, done.stderr
    assert "promoted" in done.stdout
    assert f"export DATABASE_URL={cluster.replica_url}" in done.stdout
    assert "sudo systemctl restart tekvwarho-api" in done.stdout
    assert "sudo systemctl restart tekvwarho-celery" in done.stdout
    assert scalar(cluster.replica_url, "SELECT pg_is_in_recovery()") is False
    assert scalar(cluster.replica_url, "INSERT INTO billing_marker VALUES (43) RETURNING answer") == 43
    assert env_file.read_text() == f"OTHER=kept\nDATABASE_URL={cluster.replica_url}\n"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    audit = (tmp_path / "audit.jsonl").read_text()
    assert '"recovery.failover"' in audit and '"applied"' in audit  # the old primary is down: the fallback file

    # Run again: it is a primary now, nothing to promote.
    again = run_process([*args, "--yes"], env)
    assert again.returncode == 4 and "not in recovery" in again.stderr
