"""`monitor check` against a real Prometheus (Debian's package), started on a loopback port by the test."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from monitor_helpers import need_binary

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = need_binary("prometheus")
    home = tmp_path_factory.mktemp("prometheus")
    config = home / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (home / "prometheus.log").open("w")
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={home / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prometheus did not start: {(home / 'prometheus.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_the_api_query_and_the_runbooks_promql_run_on_prometheus(proaudit_cli: Any, prometheus_url: str) -> None:
    # A constant stands in for the app's histogram: what is under test is the HTTP API and its answers.
    env = {
        "PROAUDIT_PROMETHEUS_URL": prometheus_url,
        "PROAUDIT_API_RESPONSE_QUERY": "max_over_time(vector(0.25)[$window:1m])",
    }
    ran = proaudit_cli("--json", "monitor", "check", env=env)
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    metrics = {m["name"]: m for m in ran.json()["data"]["metrics"]}
    assert (metrics["api_response_p95"]["value"], metrics["api_response_p95"]["level"]) == (250.0, "ok")
    # The runbook's queries parse and run; this Prometheus has no billing app's series.
    for name in ("prometheus_payment_success_rate", "prometheus_webhook_processing_p95"):
        assert (metrics[name]["level"], metrics[name]["detail"]) == ("no_data", "the query returned no series")


def test_a_slow_api_is_critical(proaudit_cli: Any, prometheus_url: str) -> None:
    env = {
        "PROAUDIT_PROMETHEUS_URL": prometheus_url,
        "PROAUDIT_API_RESPONSE_QUERY": "max_over_time(vector(2.5)[$window:1m])",
    }
    ran = proaudit_cli("monitor", "check", env=env)
    assert ran.exit_code == 1
    assert "2500 ms │ critical" in ran.stdout


def test_prometheus_refusing_a_query_is_exit_3(proaudit_cli: Any, prometheus_url: str) -> None:
    env = {"PROAUDIT_PROMETHEUS_URL": prometheus_url, "PROAUDIT_API_RESPONSE_QUERY": "rate(up[$window]"}
    ran = proaudit_cli("--json", "monitor", "check", env=env)
    assert ran.exit_code == 3
    api = next(m for m in ran.json()["data"]["metrics"] if m["name"] == "api_response_p95")
    assert api["level"] == "unavailable"
    assert api["detail"].startswith(f"Prometheus at {prometheus_url} refused the query: ")
    assert "parse error" in api["detail"]


def test_prometheus_down_is_exit_3(proaudit_cli: Any) -> None:
    ran = proaudit_cli("monitor", "check", env={"PROAUDIT_PROMETHEUS_URL": f"http://127.0.0.1:{_free_port()}"})
    assert ran.exit_code == 3
    assert "did not answer (ConnectError)" in " ".join(ran.stdout.split())
