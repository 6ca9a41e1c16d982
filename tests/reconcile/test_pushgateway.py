"""`reconcile --push URL` to a real Pushgateway (Debian's prometheus-pushgateway, started here on a
loopback port and stopped afterwards), read back from the gateway's own /metrics.

In CI (CI=true) a missing binary fails this test: `.ci/run` installs the package.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from reconcile_helpers import Invoke

from proaudit_ops.sandbox.dataset import RECONCILE_CASES

IN_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _binary() -> str:
    found = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
    if found is None:
        message = "prometheus-pushgateway is not installed (apt-get install prometheus-pushgateway)"
        if IN_CI:
            pytest.fail(f"{message}; CI=true: this must run, not skip")
        pytest.skip(message)
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "pushgateway.log").open("wb")
    proc = subprocess.Popen([_binary(), f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"pushgateway did not start: {(tmp_path / 'pushgateway.log').read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _pushed(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("proaudit_reconcile"):
                labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "instance"))
                out.setdefault(sample.name, {})[labels] = sample.value
    return out


def test_push_then_read_back_from_the_gateway(proaudit: Invoke, pushgateway: str) -> None:
    ran = proaudit("--json", "reconcile", "--since", "30d", "--push", pushgateway)
    assert ran.exit_code == 1, ran.stderr
    metrics = _pushed(pushgateway)
    counts = {dict(k)["category"]: v for k, v in metrics["proaudit_reconcile_drift_count"].items()}
    assert counts == {name: float(len(refs)) for name, refs in RECONCILE_CASES.items()}
    assert all(dict(k)["job"] == "proaudit_reconcile" for k in metrics["proaudit_reconcile_drift_count"])
    stuck_amount = metrics["proaudit_reconcile_drift_amount_subunits"]
    assert stuck_amount[(("category", "stuck"), ("currency", "NGN"), ("job", "proaudit_reconcile"))] == 40_000_000
    (last,) = metrics["proaudit_reconcile_last_success_timestamp_seconds"].values()
    assert abs(last - time.time()) < 120

    # A second push replaces the group: after --fix the fixable categories read zero.
    fixed = proaudit("--json", "reconcile", "--since", "30d", "--fix", "--yes", "--push", pushgateway)
    assert fixed.exit_code == 1
    after = {dict(k)["category"]: v for k, v in _pushed(pushgateway)["proaudit_reconcile_drift_count"].items()}
    assert after["stuck"] == 0 and after["paid_not_entitled"] == 0 and after["ghost"] == 1


def test_an_unreachable_gateway_is_exit_3(proaudit: Invoke) -> None:
    port = _free_port()  # nothing listens there
    ran = proaudit("reconcile", "--since", "30d", "--push", f"http://127.0.0.1:{port}")
    assert ran.exit_code == 3, ran.stdout + ran.stderr
    assert "Pushgateway" in ran.stderr
