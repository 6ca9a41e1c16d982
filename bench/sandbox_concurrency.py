"""Does `proaudit sandbox serve` scale with parallel clients? (run by hand, not a test)

    python bench/sandbox_concurrency.py [--latency-ms 50] [--requests 80]

Starts the server on a private sandbox with injected latency, then times the same number of
GET /transaction/verify calls with 1 client and with 8 parallel clients. With latency
dominating, 8 clients should get close to 8x the throughput of one.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY, SEEDED_REFERENCES
from proaudit_ops.sandbox.faults import FaultConfig
from proaudit_ops.sandbox.serve import start_background_server


def run(url: str, clients: int, total: int) -> float:
    refs = list(SEEDED_REFERENCES)
    per_client = total // clients

    def worker(_: int) -> None:
        headers = {"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            for i in range(per_client):
                client.get(f"/transaction/verify/{refs[i % len(refs)]}")

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    return (per_client * clients) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--requests", type=int, default=80)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url, stop = start_background_server(Path(tmp) / "sandbox.db", faults=FaultConfig(latency_ms=args.latency_ms))
        try:
            one = run(url, 1, args.requests // 4)
            eight = run(url, 8, args.requests)
        finally:
            stop()
    print(f"1 client : {one:7.1f} req/s")
    print(f"8 clients: {eight:7.1f} req/s  ({eight / one:.1f}x)")


if __name__ == "__main__":
    main()
