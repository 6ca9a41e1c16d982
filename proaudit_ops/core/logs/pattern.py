"""The operator's --grep pattern: bounded, compiled once, refused when it could backtrack for ages.

Python's `re` has no timeout, so a pattern with a nested quantifier (`(a+)+`, `(x*)*y`) over a
long line could hang an incident for minutes. Patterns are at most 200 characters, lines at most
MAX_LINE_BYTES, and a quantifier around a group that itself repeats is refused (exit 2) with
`--fixed` (a literal search) as the way out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from proaudit_ops.errors import UsageError

MAX_PATTERN = 200
_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")

Matcher = Callable[[str], bool]


def compile_pattern(pattern: str, *, fixed: bool, ignore_case: bool) -> Matcher:
    if not pattern:
        raise UsageError("--grep is empty", hint="give a pattern, e.g. --grep 'payment|paystack'")
    if len(pattern) > MAX_PATTERN:
        raise UsageError(f"--grep is {len(pattern)} characters long (at most {MAX_PATTERN})")
    if fixed:
        if ignore_case:
            needle = pattern.casefold()
            return lambda line: needle in line.casefold()
        return lambda line: pattern in line
    try:
        compiled = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise UsageError(
            f"--grep is not a valid regular expression: {exc}",
            hint="fix the pattern, or search for it literally with --fixed",
        ) from None
    if _nested_repeat(pattern):
        raise UsageError(
            "--grep has a repeated group that itself repeats (like (a+)+): it can take minutes on one line",
            hint="simplify the pattern, or search literally with --fixed",
        )
    return lambda line: compiled.search(line) is not None


def _nested_repeat(pattern: str) -> bool:
    try:
        import re._parser as sre_parse  # type: ignore[import-not-found]  # the stdlib parser of `re`
    except ImportError:  # another Python: the length bounds still hold
        return False
    return _walk(sre_parse.parse(pattern), inside=False)


def _walk(items: Any, *, inside: bool) -> bool:
    for op, arg in items:
        name = str(op)
        if name in _REPEATS:
            _low, high, sub = arg
            repeats = high is None or str(high) == "MAXREPEAT" or int(high) > 1
            if (inside and repeats) or _walk(sub, inside=inside or repeats):
                return True
        elif name == "SUBPATTERN":
            found = _walk(arg[-1], inside=inside)
        elif name == "BRANCH":
            found = any(_walk(branch, inside=inside) for branch in arg[1])
        elif name in ("ASSERT", "ASSERT_NOT"):
            found = _walk(arg[1], inside=inside)
        else:
            found = False
        if found:
            return True
    return False
