"""Recovery test helpers: `proaudit` as a real process (in-process runs use the root `proaudit` fixture)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

Invoke = Callable[..., Any]  # the root conftest's `proaudit` runner


def run_process(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proaudit_ops", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
