"""A progress bar on a TTY (stderr), nothing otherwise: core functions take a plain callback.

The bar appears at the first step, not before (a command may ask something first), and `pause()`
takes every bar off the screen: the prompts call it, so a bar is never redrawn over a question
or over the digits the operator types. The next step brings the bar back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress

_bars: list[Progress] = []


def pause() -> None:
    """Clear every bar from the screen (before a prompt)."""
    for bar in _bars:
        bar.stop()


def any_live() -> bool:
    return any(bar.live.is_started for bar in _bars)


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None] | None]:
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    # No stdout/stderr redirection: a prompt written while a bar exists must reach the terminal as is.
    bar = Progress(transient=True, console=Console(stderr=True), redirect_stdout=False, redirect_stderr=False)
    task = bar.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)
        if done >= total:
            bar.stop()  # finished: clear the bar before any prompt that follows
        elif not bar.live.is_started:
            bar.start()

    _bars.append(bar)
    try:
        yield update
    finally:
        bar.stop()
        _bars.remove(bar)
