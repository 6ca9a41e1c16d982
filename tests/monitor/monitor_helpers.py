"""Helpers for the monitor tests (a module of its own: `conftest` names several files)."""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")


def need_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package `prometheus`; .ci/run installs it)"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: this must run, not skip)")
        pytest.skip(message)
    return path
