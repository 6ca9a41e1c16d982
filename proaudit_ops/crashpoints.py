"""Named crash points for the SIGKILL tests.

`PROAUDIT_CRASH_AT=guard:after_update` (or a comma-separated list) makes the process kill itself
with SIGKILL when it reaches that point: no cleanup, no rollback, no atexit, like a power cut.
Points used: guard:after_lock, guard:after_update, guard:after_audit, guard:before_commit,
guard:after_commit (protocols/guard.py); the intent protocol adds `KIND:after_intent`,
`KIND:before_post`, `KIND:after_post`, `KIND:after_record` (protocols/intents.py).

`PROAUDIT_CRASH_TRACE=path` appends the name of every point reached, one a line: a crash sweep
learns from a normal run which points a command passes through (and fails when one is added).
"""

from __future__ import annotations

import os
import signal

ENV = "PROAUDIT_CRASH_AT"
TRACE_ENV = "PROAUDIT_CRASH_TRACE"


def crash_point(name: str) -> None:
    trace = os.environ.get(TRACE_ENV)
    if trace:
        with open(trace, "a", encoding="utf-8") as out:
            out.write(name + "\n")
    wanted = os.environ.get(ENV)
    if wanted and name in {part.strip() for part in wanted.split(",")}:
        os.kill(os.getpid(), signal.SIGKILL)
