"""Median wall time of `proaudit --help` vs `python -c "import typer"`, and their ratio.

Run: .venv/bin/python bench/startup.py [--runs 30]
The target is a ratio of at most 1.3: the command tree must not import httpx, SQLAlchemy,
psycopg, redis or pydantic just to print help.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def median_seconds(argv: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    python = sys.executable
    proaudit = str(Path(python).with_name("proaudit"))
    # One warm-up each so the page cache and .pyc files are in place.
    median_seconds([proaudit, "--help"], 1)
    median_seconds([python, "-c", "import typer"], 1)
    help_s = median_seconds([proaudit, "--help"], args.runs)
    typer_s = median_seconds([python, "-c", "import typer"], args.runs)
    print(f"proaudit --help        median {help_s * 1000:7.1f} ms over {args.runs} runs")
    print(f"python -c 'import typer' median {typer_s * 1000:7.1f} ms over {args.runs} runs")
    print(f"ratio                  {help_s / typer_s:7.2f}  (target <= 1.30)")


if __name__ == "__main__":
    main()
