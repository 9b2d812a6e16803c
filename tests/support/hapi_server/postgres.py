"""A private PostgreSQL cluster: Debian's binaries, loopback, a free port.  The one harness.

Who uses it: HAPI on PostgreSQL (the production shape of a JPA server: the deployment
bench ``bench/deployment.py``, ``hapi.py start --postgres``, the PostgreSQL conformance
run), and the tests of threads and checkpoints in PostgreSQL (the ``postgres_cluster``
fixture in ``tests/conftest.py``, ``fsync=False`` and restarted in place to test
reconnecting).  It lives beside ``hapi.py`` because that script imports it without the
test tree on ``sys.path``; none of them touches a system-wide cluster. ``initdb`` makes a
throwaway cluster (as the ``postgres`` user when running as root, which
PostgreSQL refuses), ``trust`` authentication on 127.0.0.1 only, the socket in
the cluster's own directory. Only the standard library is used.

    with PostgresCluster(Path(".bench-out/pg")) as pg:
        pg.create_database("hapi")
        pg.jdbc_url("hapi")      # jdbc:postgresql://127.0.0.1:PORT/hapi
        pg.url("hapi")           # postgresql://postgres@127.0.0.1:PORT/hapi
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

SEARCH_DIRS = (
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/15/bin",
)
START_TIMEOUT_SECONDS = 60.0
USER = "postgres"


class PostgresError(RuntimeError):
    """The cluster could not be created, started or used; the message says why."""


def binary(name: str) -> str | None:
    """A PostgreSQL program from PATH or Debian's versioned directories."""
    found = shutil.which(name)
    if found:
        return found
    return next((f"{d}/{name}" for d in SEARCH_DIRS if os.path.exists(f"{d}/{name}")), None)


def available() -> bool:
    return all(binary(name) for name in ("initdb", "pg_ctl", "psql"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresCluster:
    """A cluster in ``directory`` (created if missing, kept after stop for reuse)."""

    def __init__(self, directory: Path, port: int | None = None, *, fsync: bool = True) -> None:
        """``fsync=False`` for throwaway test clusters: faster, and a crash loses nothing
        that matters there."""
        self.directory = directory.resolve()
        self.fsync = fsync
        self.data = self.directory / "data"
        self.port = port or _free_port()
        self._as_root = os.geteuid() == 0
        self._prefix = ["runuser", "-u", USER, "--"] if self._as_root else []

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def jdbc_url(self, database: str = "postgres") -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*self._prefix, *command], capture_output=True, text=True, timeout=180, check=False
        )
        if proc.returncode != 0:
            raise PostgresError(f"{Path(command[0]).name} failed: {proc.stderr.strip()[-800:]}")
        return proc

    def start(self) -> str:
        """initdb if needed, start on 127.0.0.1:port, wait until it accepts connections."""
        initdb, pg_ctl = binary("initdb"), binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise PostgresError(
                "PostgreSQL's initdb and pg_ctl were not found: install Debian's postgresql."
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            shutil.chown(self.directory, USER, USER)
        if not (self.data / "PG_VERSION").is_file():
            self._run(initdb, "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory} "
            "-c max_connections=200"
        ) + ("" if self.fsync else " -c fsync=off")
        log = self.directory / "postgres.log"
        self._run(pg_ctl, "-D", str(self.data), "-o", options, "-l", str(log), "-w", "start")
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self.url()
            time.sleep(0.2)
        raise PostgresError(f"PostgreSQL did not listen on port {self.port}; see {log}")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run one SQL command; return its unaligned output."""
        psql = binary("psql")
        if psql is None:
            raise PostgresError("psql was not found: install Debian's postgresql-client.")
        command = [psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", database]
        return self._run(*command, "-At", "-c", sql).stdout.strip()

    def create_database(self, name: str) -> None:
        """Create ``name`` unless it exists (names are ours: letters, digits, underscores)."""
        if not name.replace("_", "").isalnum():
            raise PostgresError(f"database name {name!r}: use letters, digits and underscores")
        if self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":
            self.psql(f'CREATE DATABASE "{name}"')

    def stop(self, mode: str = "fast") -> None:
        """Stop the server if it runs (``mode``: pg_ctl's ``fast`` or ``immediate``)."""
        pg_ctl = binary("pg_ctl")
        if pg_ctl is not None and (self.data / "postmaster.pid").is_file():
            subprocess.run(
                [*self._prefix, pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop"],
                capture_output=True,
                timeout=120,
                check=False,
            )

    def restart(self) -> str:
        """Stop and start again on the same port with the same data (clients reconnect)."""
        self.stop()
        return self.start()

    def __enter__(self) -> PostgresCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
