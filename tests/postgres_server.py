"""A private PostgreSQL server for tests: Debian's binaries, a throwaway cluster, loopback.

``initdb`` into a temporary directory (as the ``postgres`` user when the tests run as
root, which PostgreSQL refuses to run as), ``trust`` authentication on 127.0.0.1 only, a
free port, stopped and deleted afterwards.  Without the binaries the caller skips, except
under ``EHR_AGENT_REQUIRE_POSTGRES=1`` where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SEARCH_DIRS = (
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/15/bin",
)


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    return next((f"{d}/{name}" for d in SEARCH_DIRS if os.path.exists(f"{d}/{name}")), None)


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("EHR_AGENT_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{reason} (EHR_AGENT_REQUIRE_POSTGRES=1 makes this a failure)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_url() -> Iterator[str]:
    """Start a throwaway cluster; yields ``postgresql://postgres@127.0.0.1:PORT/postgres``."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        _skip_or_fail("the PostgreSQL tests need Debian's postgresql (initdb, pg_ctl)")
    assert initdb is not None and pg_ctl is not None
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    directory = Path(tempfile.mkdtemp(prefix="ehr-agent-pg-"))
    data = directory / "data"
    if as_root:
        shutil.chown(directory, "postgres", "postgres")
    port = _free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        [*prefix, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"], **run
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {directory} -c fsync=off"
    subprocess.run(
        [
            *prefix,
            pg_ctl,
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(directory / "log"),
            "-w",
            "start",
        ],
        **run,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], **{**run, "check": False}
        )
        shutil.rmtree(directory, ignore_errors=True)
