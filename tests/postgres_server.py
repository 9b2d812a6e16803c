"""A private PostgreSQL cluster for tests: Debian's binaries, a temp dir, a free port.

``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres``
system user (created by Debian's ``postgresql`` package, which ``.ci/run`` installs).
The server listens on 127.0.0.1 only, with trust authentication for that address, and
can be restarted in place (same port, same data) to test reconnecting.  Without the
binaries the caller skips, except under ``EHR_AGENT_REQUIRE_POSTGRES=1`` where that is a
failure.

Two ways in: :class:`PostgresServer` (a cluster the test starts, stops and restarts) and
:func:`postgres_url` (a throwaway cluster for the length of a ``with`` block).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

__all__ = ["PostgresServer", "find_postgres_bin", "postgres_url"]

START_TIMEOUT_SECONDS = 60


def find_postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with ``initdb``, or ``$PATH``'s."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("EHR_AGENT_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{reason} (EHR_AGENT_REQUIRE_POSTGRES=1 makes this a failure)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One cluster under ``root``; ``url`` points at its ``postgres`` database."""

    def __init__(self, root: Path, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0
        root.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=START_TIMEOUT_SECONDS)

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def postgres_url() -> Iterator[str]:
    """Start a throwaway cluster; yields ``postgresql://postgres@127.0.0.1:PORT/postgres``."""
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        _skip_or_fail("the PostgreSQL tests need Debian's postgresql (initdb, pg_ctl)")
    assert bin_dir is not None
    root = Path(tempfile.mkdtemp(prefix="ehr-agent-pg-"))
    try:
        server = PostgresServer(root, bin_dir)
        server.start()
        try:
            yield server.url
        finally:
            with suppress(subprocess.SubprocessError):
                server.stop("immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)
