"""A private PostgreSQL cluster for tests: Debian's binaries, a temp dir, a free port.

``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres``
system user (created by Debian's ``postgresql`` package, which ``.ci/run`` installs).
The server listens on 127.0.0.1 only, with trust authentication for that address, and
can be restarted in place (same port, same data) to test reconnecting.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
from pathlib import Path

__all__ = ["PostgresServer", "find_postgres_bin"]

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
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data}"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()
