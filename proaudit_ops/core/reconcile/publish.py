"""--metrics FILE and --push URL for a finished run (a failed run publishes nothing: the last
success timestamp must keep saying when reconcile last worked)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proaudit_ops.core.reconcile.run import ReconcileResult


def publish(result: ReconcileResult, *, metrics_file: Path | None, push_url: str | None) -> None:
    if metrics_file is None and push_url is None:
        return
    from proaudit_ops.core.reconcile.figures import JOB, registry_for
    from proaudit_ops.metrics import push, write_textfile

    registry = registry_for(result)
    if metrics_file is not None:
        write_textfile(metrics_file, registry)
    if push_url is not None:
        push(push_url, JOB, registry)
