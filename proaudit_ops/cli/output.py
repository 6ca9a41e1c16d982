"""The JSON envelope every command prints with --json, on success and on failure."""

from __future__ import annotations

import json
import sys
from typing import Any

from proaudit_ops.errors import ExitCode

ENVELOPE_VERSION = 1
STATUS_BY_CODE = {
    ExitCode.OK: "ok",
    ExitCode.FINDING: "finding",
    ExitCode.USAGE: "usage_error",
    ExitCode.UNAVAILABLE: "unavailable",
    ExitCode.REFUSED: "refused",
    ExitCode.UNKNOWN_OUTCOME: "outcome_unknown",
    ExitCode.INTERRUPTED: "interrupted",
    ExitCode.INTERNAL: "internal_error",
}


def envelope(command: str, exit_code: int, data: Any, errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": ENVELOPE_VERSION,
        "command": command,
        "status": STATUS_BY_CODE.get(ExitCode(exit_code), "error"),
        "exit_code": int(exit_code),
        "data": data,
        "errors": errors,
    }


def print_envelope(command: str, exit_code: int, data: Any, errors: list[dict[str, Any]]) -> None:
    sys.stdout.write(json.dumps(envelope(command, exit_code, data, errors), ensure_ascii=False, indent=2))
    sys.stdout.write("\n")
    sys.stdout.flush()


def error_entry(code: str, message: str, hint: str | None) -> dict[str, Any]:
    return {"code": code, "message": message, "hint": hint}
