"""Build, start and stop a real HAPI FHIR JPA server (FHIR R4, H2) for tests.

The server is assembled from Maven Central artifacts by ``pom.xml`` next to this
file (see ``src/main/java/org/ehragent/hapi``). It listens on 127.0.0.1 only and
serves FHIR at ``http://127.0.0.1:PORT/fhir``.

Library use::

    from tests.support.hapi_server.hapi import HapiServer

    with HapiServer() as hapi:          # builds once, picks a free port, waits for /metadata
        httpx.get(f"{hapi.base_url}/Patient")

Command line::

    python tests/support/hapi_server/hapi.py build
    python tests/support/hapi_server/hapi.py start [--port N] [--db DIR]   # background; prints URL
    python tests/support/hapi_server/hapi.py start --postgres DIR   # on a private PostgreSQL in DIR
    python tests/support/hapi_server/hapi.py status
    python tests/support/hapi_server/hapi.py stop

``start`` records the pid and URL in ``tests/support/hapi_server/target/hapi-server.state.json``.

Environment:

``EHR_AGENT_HAPI_URL``
    Base URL of an already running HAPI server (e.g. from ``hapi.py start``). Callers
    (test fixtures) should use it instead of starting their own server; this module only
    exposes it through :func:`external_base_url`.
``EHR_AGENT_HAPI_JAVA`` / ``JAVA_HOME``
    Java executable to run the server with (default: ``java`` on ``PATH``).
``EHR_AGENT_HAPI_HEAP``
    Maximum heap passed as ``-Xmx`` (default ``2g``).
``EHR_AGENT_HAPI_JAVA_OPTS``
    Extra JVM options, appended last (e.g. ``-XX:TieredStopAtLevel=4`` to re-enable the
    C2 compiler, which the default options leave off for a faster start-up).
``EHR_AGENT_HAPI_NO_CDS``
    If set, do not use/record the class-data-sharing archive (target/hapi-server-*.jsa).
    The first start after a build records it (the JVM writes it while stopping, ~20 s);
    later starts take ~12 s instead of ~15-20 s. ``CI=true`` skips the recording.

Only the standard library and httpx are used.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

import httpx

HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
SRC = HERE / "src"
TARGET = HERE / "target"
JAR = TARGET / "hapi-server.jar"
LIB = TARGET / "lib"
STATE_FILE = TARGET / "hapi-server.state.json"
LOG_DIR = TARGET / "logs"

ENV_URL = "EHR_AGENT_HAPI_URL"
ENV_JAVA = "EHR_AGENT_HAPI_JAVA"
ENV_HEAP = "EHR_AGENT_HAPI_HEAP"
ENV_NO_CDS = "EHR_AGENT_HAPI_NO_CDS"
ENV_JAVA_OPTS = "EHR_AGENT_HAPI_JAVA_OPTS"

DEFAULT_HEAP = "2g"
DEFAULT_STARTUP_TIMEOUT = 240.0
DEFAULT_STOP_GRACE = 30.0
CDS_DUMP_GRACE = 120.0
JAR_MARKER = "hapi-server.jar"


class HapiServerError(RuntimeError):
    """The HAPI server could not be built, started or stopped."""


def external_base_url() -> str | None:
    """The base URL in ``EHR_AGENT_HAPI_URL`` (trailing slash removed), if set."""
    url = os.environ.get(ENV_URL, "").strip()
    return url.rstrip("/") or None


def find_java() -> str | None:
    """The java executable: ``EHR_AGENT_HAPI_JAVA``, then ``$JAVA_HOME/bin/java``, then PATH."""
    explicit = os.environ.get(ENV_JAVA)
    if explicit:
        return explicit if Path(explicit).exists() else shutil.which(explicit)
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def find_maven() -> str | None:
    return shutil.which("mvn")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _newest_mtime(paths: Iterator[Path]) -> float:
    newest = 0.0
    for path in paths:
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
    return newest


def needs_build() -> bool:
    """True if the jar is missing or older than pom.xml or any file under src/."""
    if not JAR.is_file() or not LIB.is_dir():
        return True
    sources = _newest_mtime(iter([POM, *SRC.rglob("*")]))
    return JAR.stat().st_mtime < sources


def build(*, force: bool = False, quiet: bool = True) -> Path:
    """Run Maven once (``mvn package``) unless the jar is up to date. Returns the jar."""
    if not force and not needs_build():
        return JAR
    TARGET.mkdir(parents=True, exist_ok=True)
    with (TARGET / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one Maven at a time (parallel test sessions)
        if not force and not needs_build():
            return JAR  # another process built it while we waited
        return _run_maven(quiet=quiet)


def _run_maven(*, quiet: bool) -> Path:
    mvn = find_maven()
    if mvn is None:
        raise HapiServerError("Maven ('mvn') is not on PATH: cannot build the HAPI server")
    cmd = [mvn, "-B", "package"]
    if quiet:
        cmd.insert(2, "-q")
    proc = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-60:])
        raise HapiServerError(f"Maven build failed ({proc.returncode}):\n{tail}")
    if not JAR.is_file():
        raise HapiServerError(f"Maven succeeded but {JAR} is missing")
    # The jar plugin may leave an unchanged jar untouched: mark it fresh so the next
    # needs_build() is False, and drop the class-data archive made for the old classpath.
    JAR.touch()
    for archive in TARGET.glob("hapi-server-*.jsa*"):
        archive.unlink(missing_ok=True)
    return JAR


def _log_tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _is_our_java(pid: int) -> bool:
    """True if ``pid`` is alive and runs hapi-server.jar (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        # No /proc (macOS): fall back to "the pid is alive".
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    return JAR_MARKER.encode() in cmdline


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def terminate_pid(pid: int, grace: float = DEFAULT_STOP_GRACE) -> bool:
    """SIGTERM ``pid``, wait up to ``grace`` seconds, then SIGKILL.

    Returns True if the process ended by itself, False if it had to be killed.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not _pid_alive(pid):
            return True
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    return False


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
            cds_flags, self._cds_pending = _cds_flags(java)
            self.process = subprocess.Popen(
                self.command(java, self.port, cds_flags),
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
                    tail = _log_tail(log_path)
                    if "Address already in use" in tail and self.requested_port is None:
                        raise _PortTaken(f"port {self.port} was taken; log:\n{tail}")
                    raise HapiServerError(
                        f"HAPI server exited with code {code} before it was ready "
                        f"(log {log_path}):\n{tail}"
                    )
                if time.monotonic() > deadline:
                    raise HapiServerError(
                        f"HAPI server not ready after {self.startup_timeout:.0f} s "
                        f"(log {log_path}):\n{_log_tail(log_path)}"
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
            _adopt_cds_archive(self._cds_pending, self._java, complete=not killed)
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


def _cds_archive(java: str) -> Path:
    """The class-data-sharing archive for this JVM and the current build (in target/)."""
    java_id = hashlib.sha1(str(Path(java).resolve()).encode()).hexdigest()[:10]
    return TARGET / f"hapi-server-{java_id}.jsa"


def _cds_flags(java: str) -> tuple[list[str], Path | None]:
    """Class-data sharing: reuse (or, the first time, record) an archive of loaded classes.

    With the archive start-up is ~25 % shorter. It is specific to the JVM and the exact
    classpath, so it lives in target/ and every build deletes it; the first start after a
    build records it to a private file (written by the JVM when it exits) that
    :func:`_adopt_cds_archive` renames into place. A stale archive is ignored by the JVM.
    Returns the JVM flags and the pending archive path, if one is being recorded.
    """
    if os.environ.get(ENV_NO_CDS):
        return [], None
    quiet = ["-Xlog:cds=off", "-Xlog:cds+dynamic=off"]
    archive = _cds_archive(java)
    if archive.is_file() and JAR.is_file() and archive.stat().st_mtime < JAR.stat().st_mtime:
        archive.unlink(missing_ok=True)  # recorded for an older build
    if archive.is_file():
        return [f"-XX:SharedArchiveFile={archive}", *quiet], None
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        # A CI run starts the server once from a fresh clone: recording would only add
        # the ~20 s the JVM spends writing the archive at exit.
        return [], None
    pending = archive.with_name(f"{archive.name}.{os.getpid()}-{time.monotonic_ns()}.tmp")
    return [f"-XX:ArchiveClassesAtExit={pending}", *quiet], pending


def _adopt_cds_archive(pending: Path | None, java: str, *, complete: bool) -> None:
    """Move a recorded archive into place; drop it if the JVM was killed while writing."""
    if pending is None:
        return
    with contextlib.suppress(OSError):
        if complete and pending.is_file() and pending.stat().st_size > 0:
            os.replace(pending, _cds_archive(java))
        pending.unlink(missing_ok=True)


# -- CLI ------------------------------------------------------------------------------


@dataclass
class _State:
    pid: int
    port: int
    base_url: str
    log: str
    db_dir: str | None
    started_at: float
    java: str | None = None
    cds_pending: str | None = None


def _read_state() -> _State | None:
    try:
        return _State(**json.loads(STATE_FILE.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _cmd_build(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if not args.force and not needs_build():
        print(f"{JAR} is up to date (use --force to run Maven anyway)")
        return 0
    build(force=True)
    print(f"built {JAR} in {time.monotonic() - started:.1f} s")
    return 0


def _cmd_start(args: argparse.Namespace) -> int:
    state = _read_state()
    if state is not None and _is_our_java(state.pid):
        print(state.base_url)
        print(f"already running (pid {state.pid})", file=sys.stderr)
        return 0
    db_dir = Path(args.db) if args.db else None
    jdbc_url = None
    if args.postgres:
        from postgres import PostgresCluster  # tests/support/hapi_server/postgres.py

        cluster = PostgresCluster(Path(args.postgres))
        cluster.start()
        cluster.create_database("hapi")
        jdbc_url = cluster.jdbc_url("hapi")
        print(f"PostgreSQL {cluster.url('hapi')} (data in {cluster.data})", file=sys.stderr)
    server = HapiServer(
        db_dir=db_dir,
        port=args.port,
        startup_timeout=args.timeout,
        detach=True,
        jdbc_url=jdbc_url,
    )
    base_url = server.start()
    assert server.pid is not None and server.port is not None
    STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    state = _State(
        pid=server.pid,
        port=server.port,
        base_url=base_url,
        log=str(server.log_path),
        db_dir=str(db_dir.resolve()) if db_dir else None,
        started_at=time.time(),
        java=server._java,
        cds_pending=str(server._cds_pending) if server._cds_pending else None,
    )
    STATE_FILE.write_text(json.dumps(asdict(state), indent=2) + "\n")
    # Leave the detached child running: forget it so Popen's finaliser does not warn.
    server.process = None
    print(base_url)
    print(
        f"started pid {state.pid} in {server.startup_seconds:.1f} s; log {state.log}; "
        f"export {ENV_URL}={base_url}",
        file=sys.stderr,
    )
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    state = _read_state()
    if state is None:
        print("not running (no state file)")
        return 0
    if _is_our_java(state.pid):
        grace = max(args.grace, CDS_DUMP_GRACE) if state.cds_pending else args.grace
        completed = terminate_pid(state.pid, grace=grace)
        if state.java and state.cds_pending:
            _adopt_cds_archive(Path(state.cds_pending), state.java, complete=completed)
        print(f"stopped pid {state.pid}")
    else:
        print(f"not running (stale state: pid {state.pid})")
    STATE_FILE.unlink(missing_ok=True)
    return 0


def _cmd_status(_: argparse.Namespace) -> int:
    state = _read_state()
    if state is None or not _is_our_java(state.pid):
        print("not running")
        return 1
    try:
        code = httpx.get(f"{state.base_url}/metadata", timeout=30.0).status_code
    except httpx.HTTPError as exc:
        code = 0
        print(f"pid {state.pid} alive but {state.base_url} unreachable: {exc}")
    print(f"running pid {state.pid} {state.base_url} metadata={code} log={state.log}")
    return 0 if code == 200 else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="run Maven if the jar is stale; report the time")
    p_build.add_argument("--force", action="store_true", help="run Maven even if up to date")
    p_build.set_defaults(func=_cmd_build)
    p_start = sub.add_parser("start", help="start in the background and print the base URL")
    p_start.add_argument("--port", type=int, default=None, help="default: a free port")
    p_start.add_argument("--db", default=None, help="H2 file database directory (default: memory)")
    p_start.add_argument(
        "--postgres",
        default=None,
        metavar="DIR",
        help="run on a private PostgreSQL cluster in DIR (created if missing; left running)",
    )
    p_start.add_argument("--timeout", type=float, default=DEFAULT_STARTUP_TIMEOUT)
    p_start.set_defaults(func=_cmd_start)
    p_stop = sub.add_parser("stop", help="stop the server started by 'start'")
    p_stop.add_argument("--grace", type=float, default=DEFAULT_STOP_GRACE)
    p_stop.set_defaults(func=_cmd_stop)
    sub.add_parser("status", help="is the server from 'start' up?").set_defaults(func=_cmd_status)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except HapiServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
