"""Named crash points for the SIGKILL tests.

`PROAUDIT_CRASH_AT=guard:after_update` (or a comma-separated list) makes the process kill itself
with SIGKILL when it reaches that point: no cleanup, no rollback, no atexit, like a power cut.
Points used: guard:after_lock, guard:after_update, guard:after_audit, guard:before_commit,
guard:after_commit (protocols/guard.py); the refund flow adds its own.
"""

from __future__ import annotations

import os
import signal

ENV = "PROAUDIT_CRASH_AT"


def crash_point(name: str) -> None:
    wanted = os.environ.get(ENV)
    if wanted and name in {part.strip() for part in wanted.split(",")}:
        os.kill(os.getpid(), signal.SIGKILL)
