"""Issue 11 §6 on a real pseudo-terminal: the prompt with stdout piped (`--fix | tee log`), and a
progress bar that stays off the prompt line so the typed count is seen."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROAUDIT = str(Path(sys.executable).with_name("proaudit"))
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    """A process whose stdin and stderr (and optionally stdout) are a 60x40 pseudo-terminal."""

    def __init__(self, args: list[str], *, stdout_piped: bool) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 60, 0, 0))
        env = {**os.environ, "COLUMNS": "60", "TERM": "xterm"}
        env.pop("NO_COLOR", None)
        self.proc = subprocess.Popen(
            [PROAUDIT, *args],
            stdin=slave,
            stdout=subprocess.PIPE if stdout_piped else slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.screen = b""

    def read_until(self, marker: bytes, timeout: float = 30.0) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in ANSI.sub(b"", self.screen):
            if not self._read(deadline - time.monotonic()):
                raise AssertionError(f"{marker!r} never appeared; screen:\n{self.screen.decode(errors='replace')}")
        return self.screen

    def read_for(self, seconds: float) -> bytes:
        """Everything the process draws in the next `seconds` (a bar refreshes 10 times a second)."""
        start = len(self.screen)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._read(deadline - time.monotonic())
        return self.screen[start:]

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], max(timeout, 0))
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # the process closed the terminal
            return False
        self.screen += chunk
        return bool(chunk)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def finish(self, timeout: float = 60.0) -> tuple[int, bytes]:
        out = self.proc.stdout.read() if self.proc.stdout else b""
        code = self.proc.wait(timeout)
        self.read_for(0.2)
        os.close(self.master)
        return code, out


def test_prompt_on_the_terminal_when_stdout_is_piped(isolated_env: Path) -> None:
    term = Terminal(["payments", "verify", "PSK-ABANDONED-0001", "--fix"], stdout_piped=True)  # a one-row fix
    screen = term.read_until(b"[y/N]")
    assert b"PSK-ABANDONED-0001" in screen  # the plan is shown where the question is asked
    term.type("y\n")
    code, out = term.finish()
    assert code == 0, term.screen.decode(errors="replace")
    assert b"y\r\n" in term.screen or b"y\n" in term.screen  # the answer was echoed
    text = out.decode()
    assert "applied: 1 row(s) changed" in text  # the log (stdout) has the outcome...
    assert "plan payments.fix" in text  # ...and the plan that was approved
    assert "[y/N]" not in text  # the prompt never goes to stdout


def test_no_terminal_at_all_is_refused(isolated_env: Path) -> None:
    ran = subprocess.run(
        [PROAUDIT, "payments", "verify", "PSK-STUCK-0001", "--fix"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    assert ran.returncode == 4
    assert b"no terminal to confirm on" in ran.stderr


def test_the_typed_count_is_not_hidden_by_a_progress_bar(isolated_env: Path) -> None:
    term = Terminal(["webhooks", "retry-failed"], stdout_piped=False)
    term.read_until(b"Type 2 to apply")
    drawn = ANSI.sub(b"", term.read_for(1.0))
    assert b"redelivering" not in drawn, drawn  # no bar redrawn over the prompt line
    term.type("2\n")
    code, _ = term.finish()
    screen = ANSI.sub(b"", term.screen)
    assert code in (0, 1), screen.decode(errors="replace")
    after_prompt = screen[screen.index(b"Type 2 to apply") :]
    assert re.match(rb"Type 2 to apply, anything else aborts: 2\r?\n", after_prompt), after_prompt[:200]
    assert b"delivered" in screen
