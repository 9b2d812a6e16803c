"""``HapiServer``: one HAPI FHIR JPA server child process (R4, 127.0.0.1) and its lifetime.

Why a class: tests and benches start a server, use its base URL and stop it, often as a
context manager; the object keeps what stopping needs (the process, and the class-data
archive the JVM may be writing as it exits).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import httpx

from tests.support.hapi_server.cds import adopt_cds_archive, cds_flags
from tests.support.hapi_server.maven import build
from tests.support.hapi_server.processes import free_port, log_tail
from tests.support.hapi_server.settings import (
    CDS_DUMP_GRACE,
    DEFAULT_HEAP,
    DEFAULT_STARTUP_TIMEOUT,
    DEFAULT_STOP_GRACE,
    ENV_HEAP,
    ENV_JAVA_OPTS,
    HERE,
    JAR,
    LOG_DIR,
    HapiServerError,
    find_java,
)


class HapiServer:
    """A HAPI FHIR JPA server child process (R4, 127.0.0.1), usable as a context manager.

    ``db_dir=None`` keeps the database in memory (lost on stop); a directory makes it an
    H2 file database that survives restarts. ``jdbc_url`` (``jdbc:postgresql://...``, see
    ``postgres.py``) puts it on PostgreSQL instead, as user ``db_user``; a password, if the
    database needs one, goes in ``EHR_AGENT_HAPI_DB_PASSWORD``, never on the command line.
    ``port=None`` picks a free port.
    """

    def __init__(
        self,
        db_dir: Path | None = None,
        port: int | None = None,
        *,
        heap: str | None = None,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        log_path: Path | None = None,
        detach: bool = False,
        extra_args: Sequence[str] = (),
        jdbc_url: str | None = None,
        db_user: str | None = None,
    ) -> None:
        if db_dir is not None and jdbc_url is not None:
            raise HapiServerError("give HapiServer either db_dir (H2) or jdbc_url, not both")
        self.db_dir = db_dir
        self.jdbc_url = jdbc_url
        self.db_user = db_user
        self.requested_port = port
        self.heap = heap or os.environ.get(ENV_HEAP) or DEFAULT_HEAP
        self.startup_timeout = startup_timeout
        self._log_path = log_path
        self.detach = detach
        self.extra_args = list(extra_args)
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None
        self._java: str | None = None
        self._cds_pending: Path | None = None

    # -- properties ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise HapiServerError("HAPI server not started")
        return f"http://127.0.0.1:{self.port}/fhir"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def log_path(self) -> Path:
        if self._log_path is not None:
            return self._log_path
        return LOG_DIR / f"hapi-{self.port or 'unstarted'}.log"

    @property
    def java(self) -> str | None:
        """The java executable the last ``start`` ran (``None`` before it)."""
        return self._java

    @property
    def cds_pending(self) -> Path | None:
        """The class-data archive this JVM writes when it exits, if it is recording one."""
        return self._cds_pending

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- lifecycle ----------------------------------------------------------------------

    def build(self, *, force: bool = False) -> Path:
        return build(force=force)

    def command(self, java: str, port: int, jvm_flags: Sequence[str] = ()) -> list[str]:
        """The java command line; ``jvm_flags`` go after the defaults (CDS flags)."""
        cmd = [
            java,
            f"-Xmx{self.heap}",
            # Tests are start-up bound: C1 only (no C2) starts faster on 2 cores; ingest
            # speed over a 10k-resource load measured the same (~130 resources/s).
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            "-Dfile.encoding=UTF-8",
        ]
        cmd += jvm_flags
        cmd += shlex.split(os.environ.get(ENV_JAVA_OPTS, ""))  # last, so they win
        cmd += ["-jar", str(JAR), "--port", str(port)]
        if self.db_dir is not None:
            cmd += ["--db", str(Path(self.db_dir).resolve())]
        if self.jdbc_url is not None:
            cmd += ["--jdbc-url", self.jdbc_url]
            if self.db_user is not None:
                cmd += ["--db-user", self.db_user]
        cmd += self.extra_args
        return cmd

    def start(self) -> str:
        """Build if needed, start Java, wait until ``GET {base}/metadata`` answers 200."""
        if self.is_running():
            return self.base_url
        java = find_java()
        if java is None:
            raise HapiServerError("Java ('java') is not on PATH: cannot run the HAPI server")
        self._java = java
        self.build()
        attempts = 1 if self.requested_port is not None else 3
        last_error: HapiServerError | None = None
        for _ in range(attempts):
            try:
                return self._start_once(java)
            except _PortTaken as exc:  # raced with another process for the picked port
                last_error = exc
        assert last_error is not None
        raise last_error

    def _start_once(self, java: str) -> str:
        self.port = self.requested_port or free_port()
        log_path = self.log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with log_path.open("wb") as log:
            jvm_flags, self._cds_pending = cds_flags(java)
            self.process = subprocess.Popen(
                self.command(java, self.port, jvm_flags),
                cwd=HERE,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=self.detach,
            )
        try:
            self._wait_ready(started, log_path)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self.base_url

    def _wait_ready(self, started: float, log_path: Path) -> None:
        assert self.process is not None
        deadline = started + self.startup_timeout
        url = f"{self.base_url}/metadata"
        with httpx.Client(timeout=httpx.Timeout(60.0, connect=2.0)) as client:
            while True:
                code = self.process.poll()
                if code is not None:
                    tail = log_tail(log_path)
                    if "Address already in use" in tail and self.requested_port is None:
                        raise _PortTaken(f"port {self.port} was taken; log:\n{tail}")
                    raise HapiServerError(
                        f"HAPI server exited with code {code} before it was ready "
                        f"(log {log_path}):\n{tail}"
                    )
                if time.monotonic() > deadline:
                    raise HapiServerError(
                        f"HAPI server not ready after {self.startup_timeout:.0f} s "
                        f"(log {log_path}):\n{log_tail(log_path)}"
                    )
                try:
                    response = client.get(url, headers={"Accept": "application/fhir+json"})
                except httpx.TransportError:
                    time.sleep(0.5)
                    continue
                if response.status_code == 200:
                    return
                time.sleep(0.5)

    def stop(self, grace: float = DEFAULT_STOP_GRACE) -> None:
        """SIGTERM the server, SIGKILL it after ``grace`` seconds."""
        process = self.process
        if process is None:
            return
        if self._cds_pending is not None:
            # The JVM writes the class-data archive while exiting: give it time (~30 s).
            grace = max(grace, CDS_DUMP_GRACE)
        killed = False
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                killed = True
        self.process = None
        if self._java is not None and self._cds_pending is not None:
            adopt_cds_archive(self._cds_pending, self._java, complete=not killed)
            self._cds_pending = None

    def __enter__(self) -> HapiServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _PortTaken(HapiServerError):
    pass
