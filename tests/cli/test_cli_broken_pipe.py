"""Issue 11 §6: a reader that stops early (`proaudit sandbox status | head -1`) is not an error.

The read end of stdout is closed before the command writes, so every write meets EPIPE.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROAUDIT = str(Path(sys.executable).with_name("proaudit"))


def run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess[bytes]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `head -1` after its line: nobody reads any more
    try:
        return subprocess.run([PROAUDIT, *args], stdout=write_end, stderr=subprocess.PIPE, timeout=120, check=False)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", [["sandbox", "status"], ["--json", "sandbox", "status"], ["--help"]])
def test_broken_pipe_exits_quietly_with_the_commands_own_code(isolated_env: Path, args: list[str]) -> None:
    ran = run_into_closed_pipe(*args)
    assert ran.returncode == 0, ran.stderr.decode()
    assert b"BrokenPipe" not in ran.stderr and b"Traceback" not in ran.stderr
    assert b"error:" not in ran.stderr


def test_a_finding_keeps_its_exit_code(isolated_env: Path) -> None:
    ran = run_into_closed_pipe("payments", "verify", "PSK-STUCK-0001")
    assert ran.returncode == 1, ran.stderr.decode()  # stuck: a finding, whether or not anyone read it
    assert b"BrokenPipe" not in ran.stderr and b"error:" not in ran.stderr
