"""`recovery health`: every check, concurrently and bounded; exit 1 when one fails."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from recovery_helpers import Invoke


def checks(ran: Any) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in ran.json()["data"]["checks"]}


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung app)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


def test_the_sandbox_is_healthy(proaudit: Invoke) -> None:
    ran = proaudit("--json", "recovery", "health")
    assert ran.exit_code == 0, ran.stdout
    got = checks(ran)
    assert {name: c["status"] for name, c in got.items()} == {
        "app": "ok",
        "database": "ok",
        "redis": "ok",
        "paystack": "ok",
        "celery": "skipped",
    }
    assert "local stand-in" in got["redis"]["detail"]
    human = proaudit("recovery", "health")
    assert human.exit_code == 0 and "every configured check passed" in human.stdout


def test_postgres_redis_and_the_celery_queue(proaudit: Invoke, pg_url: str, redis_url: str, isolated_env: Path) -> None:
    import redis

    from proaudit_ops.sandbox.home import ensure_sandbox

    ensure_sandbox(isolated_env / "sandbox.db").dispose()
    client = redis.Redis.from_url(redis_url)
    client.rpush("billing", "a", "b", "c")
    client.close()
    env = {
        "DATABASE_URL": pg_url,
        "PROAUDIT_PAYSTACK_SIMULATOR": "true",
        "PROAUDIT_REDIS_URL": redis_url,
        "PROAUDIT_CELERY_BROKER_URL": redis_url,
        "PROAUDIT_CELERY_QUEUE": "billing",
    }
    ran = proaudit("--json", "recovery", "health", env=env)
    got = checks(ran)
    assert got["database"]["status"] == "ok" and got["database"]["data"]["role"] == "primary"
    assert got["redis"]["status"] == "ok" and "Redis" in got["redis"]["detail"]
    assert got["celery"]["status"] == "ok" and got["celery"]["data"]["depth"] == 3
    assert ran.exit_code == 0, got
    deep = proaudit("--json", "recovery", "health", env={**env, "PROAUDIT_CELERY_MAX_DEPTH": "2"})
    assert deep.exit_code == 1 and checks(deep)["celery"]["status"] == "fail"
    assert "above 2" in checks(deep)["celery"]["detail"]


def test_failures_are_named_and_bounded(proaudit: Invoke, silent_port: int) -> None:
    env = {
        "PROAUDIT_APP_BASE_URL": f"http://127.0.0.1:{silent_port}",
        "PROAUDIT_REDIS_URL": "redis://:pw-secret@127.0.0.1:1/0",
        "PROAUDIT_SANDBOX": "true",
    }
    ran = proaudit("--json", "recovery", "health", "--timeout", "0.5", env=env)
    assert ran.exit_code == 1
    got = checks(ran)
    assert got["app"]["status"] == "fail" and "Timeout" in got["app"]["detail"]
    assert got["redis"]["status"] == "fail"
    assert got["database"]["status"] == "ok" and got["paystack"]["status"] == "ok"
    assert "pw-secret" not in ran.stdout + ran.stderr
    human = proaudit("recovery", "health", "--timeout", "0.5", env=env)
    assert human.exit_code == 1 and "fail: app, redis" in human.stdout


@pytest.fixture
def rejecting_paystack() -> Iterator[str]:
    """A Paystack stand-in that answers every request as Paystack does a revoked key."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"status": false, "message": "Invalid key"}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_rejected_key_fails_the_paystack_check(proaudit: Invoke, rejecting_paystack: str) -> None:
    key = "sk_test_" + "w" * 40
    env = {"PAYSTACK_SECRET_KEY": key, "PAYSTACK_BASE_URL": rejecting_paystack}
    ran = proaudit("--json", "recovery", "health", env=env)
    got = checks(ran)
    assert ran.exit_code == 1 and got["paystack"]["status"] == "fail", got["paystack"]
    assert "rejected the secret key" in got["paystack"]["detail"]
    assert key not in ran.stdout + ran.stderr
