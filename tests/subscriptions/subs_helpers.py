"""Shared by the subscription tests (a module of its own: `conftest` is not importable by name)."""

from __future__ import annotations

from proaudit_ops.protocols.guard import ApplyOptions
from proaudit_ops.protocols.plan import Plan

YES = ApplyOptions(assume_yes=True)
DRY = ApplyOptions(dry_run=True)


def never(_plan: Plan) -> bool:
    raise AssertionError("no prompt expected")
