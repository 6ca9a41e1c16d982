"""Two proaudit processes share one Paystack rate limit through Redis: counted at `sandbox serve`."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

import proaudit_ops.sandbox.serve as serve
from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY
from proaudit_ops.sandbox.faults import FaultConfig

LIMIT, WINDOW_S, RUN_S = 20, 10.0, 7.0
# Each process verifies one seeded payment, as fast as its limiter lets it, for RUN_S seconds.
WORKER = """
import sys, time
from proaudit_ops.config import load_settings
from proaudit_ops.runtime import Runtime

deadline = time.monotonic() + float(sys.argv[1])
sent = 0
with Runtime(load_settings()) as runtime:
    client = runtime.paystack()
    while time.monotonic() < deadline:
        client.verify_transaction("PSK-OK-0001")
        sent += 1
print(sent)
"""


def max_in_window(stamps: list[float], window: float) -> int:
    j, best = 0, 0
    for i, t in enumerate(stamps):
        while stamps[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


@pytest.fixture
def counted_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[float]]]:
    """`sandbox serve` in this process, with the arrival time of every Paystack request recorded."""
    arrivals: list[float] = []
    lock = threading.Lock()
    real = serve.dispatcher

    def counting(simulator: Any, billing_app: Any) -> Any:
        app = real(simulator, billing_app)

        def counted(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            if str(environ.get("PATH_INFO", "")).startswith("/transaction"):
                with lock:
                    arrivals.append(time.monotonic())
            return app(environ, start_response)

        return counted

    monkeypatch.setattr(serve, "dispatcher", counting)
    url, stop = serve.start_background_server(tmp_path / "sandbox.db", faults=FaultConfig(timeout_s=5))
    try:
        yield url, arrivals
    finally:
        stop()


def run_two(url: str, env_extra: dict[str, str]) -> list[int]:
    env = {
        **os.environ,
        "PAYSTACK_SECRET_KEY": SANDBOX_SECRET_KEY,
        "PAYSTACK_BASE_URL": url,
        "PROAUDIT_PAYSTACK_RATE_LIMIT": f"{LIMIT}/{WINDOW_S:g}s",
        **env_extra,
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(RUN_S)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    sent = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        sent.append(int(out.strip()))
    return sent


def test_two_processes_together_stay_within_one_limit(counted_server: tuple[str, list[float]], redis_url: str) -> None:
    url, arrivals = counted_server
    sent = run_two(url, {"PROAUDIT_REDIS_URL": redis_url})
    assert all(n >= 1 for n in sent), sent  # both processes did send
    assert sum(sent) == len(arrivals)
    # The bound: no window of WINDOW_S at the server saw more than LIMIT requests from both together.
    # (Each process alone would have been allowed about LIMIT in RUN_S: without the shared bucket
    # the two together exceed LIMIT, which is what this test would catch.)
    assert max_in_window(sorted(arrivals), WINDOW_S) <= LIMIT, sent
