"""Prometheus output with prometheus_client: a textfile for node_exporter's textfile collector
(written atomically: a temp file in the same folder, then rename) and a push to a Pushgateway.

Small on purpose, so every command that exports figures uses the same two calls:
`write_textfile(path, registry)` and `push(url, job, registry)`. Build the metrics on a fresh
`CollectorRegistry()` (never the global default registry, which carries the process's own metrics).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from proaudit_ops.errors import DependencyUnavailable, UsageError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


def new_registry() -> CollectorRegistry:
    from prometheus_client import CollectorRegistry

    return CollectorRegistry(auto_describe=True)


def write_textfile(path: Path, registry: CollectorRegistry, *, what: str = "--metrics") -> Path:
    """Write the registry in Prometheus text format to `path`, atomically (readers never see half a file).

    node_exporter reads `*.prom` files: name the file so. The temp file lives in the same folder
    (rename is atomic only within one file system) and is removed if anything fails.
    """
    from prometheus_client import generate_latest

    from proaudit_ops.files import check_output_path

    target = check_output_path(path, what)
    folder = target.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(generate_latest(registry))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # node_exporter usually runs as another user
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def push(url: str, job: str, registry: CollectorRegistry, *, timeout_s: float = 10.0) -> None:
    """PUT the registry to a Pushgateway (replacing the job's group). An unreachable gateway is exit 3."""
    from urllib.error import URLError
    from urllib.parse import urlsplit

    from prometheus_client import push_to_gateway

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--push: {url!r} is not an http(s) URL", hint="e.g. --push http://pushgateway:9091")
    try:
        push_to_gateway(url, job=job, registry=registry, timeout=timeout_s)
    except (URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DependencyUnavailable(
            f"cannot push metrics to the Pushgateway at {parts.netloc}: {reason}",
            hint="check the --push URL and that the Pushgateway is up",
        ) from None
