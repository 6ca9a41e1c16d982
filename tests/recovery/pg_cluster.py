"""A real PostgreSQL primary and streaming replica on loopback ports, for the failover test.

initdb, pg_basebackup -R and pg_ctl from /usr/lib/postgresql/*/bin, run as the `postgres` OS
user (CI runs as root, and PostgreSQL refuses to run as root), in a private temporary folder.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found or shutil.which("runuser") is None:
        # Never a skip: CI must have these (apt-get install postgresql), the failover proof depends on them.
        pytest.fail("PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) or runuser are missing")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    root: Path
    bin: Path
    primary_port: int
    replica_port: int

    def url(self, port: int) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/postgres"

    @property
    def primary_url(self) -> str:
        return self.url(self.primary_port)

    @property
    def replica_url(self) -> str:
        return self.url(self.replica_port)

    def as_postgres(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.root,
        )
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
        return done

    def start(self, name: str, port: int) -> None:
        opts = f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self.as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.root / name),
            "-l",
            str(self.root / f"{name}.log"),
            "-w",
            "-t",
            "30",
            "-o",
            opts,
            "start",
        )

    def stop(self, name: str, mode: str = "fast") -> None:
        self.as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.root / name), "-m", mode, "-w", "stop")

    def running(self, name: str) -> bool:
        return (self.root / name / "postmaster.pid").exists()


def make_cluster() -> Cluster:
    binaries = pg_bin()
    user = pwd.getpwnam("postgres")
    root = Path(tempfile.mkdtemp(prefix="proaudit-failover-"))
    os.chown(root, user.pw_uid, user.pw_gid)
    cluster = Cluster(root, binaries, free_port(), free_port())
    cluster.as_postgres(
        str(binaries / "initdb"),
        "-D",
        str(root / "primary"),
        "-U",
        "postgres",
        "-A",
        "trust",
        "--no-sync",
        "--no-instructions",
    )
    cluster.start("primary", cluster.primary_port)
    cluster.as_postgres(
        str(binaries / "pg_basebackup"),
        "-h",
        "127.0.0.1",
        "-p",
        str(cluster.primary_port),
        "-U",
        "postgres",
        "-D",
        str(root / "replica"),
        "-R",
        "-X",
        "stream",
        "--no-sync",
    )
    cluster.start("replica", cluster.replica_port)
    return cluster


def destroy(cluster: Cluster) -> None:
    for name in ("replica", "primary"):
        if cluster.running(name):
            with contextlib.suppress(AssertionError):
                cluster.stop(name, "immediate")
    shutil.rmtree(cluster.root, ignore_errors=True)


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:  # noqa: S110 - a server still starting answers with errors
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
