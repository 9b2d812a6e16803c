"""The command line of ``python tests/support/hapi_server/hapi.py``: build, start (in the
background), status and stop.

Why a state file: ``start`` leaves a detached server running for manual use or another
process's tests (``EHR_AGENT_HAPI_URL``); ``status`` and ``stop`` are later processes
that find it again through ``target/hapi-server.state.json`` (pid, URL, log, and the
class-data archive its JVM may be recording).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from tests.support.hapi_server.cds import adopt_cds_archive
from tests.support.hapi_server.maven import build, needs_build
from tests.support.hapi_server.postgres import PostgresCluster
from tests.support.hapi_server.processes import is_our_java, terminate_pid
from tests.support.hapi_server.server import HapiServer
from tests.support.hapi_server.settings import (
    CDS_DUMP_GRACE,
    DEFAULT_STARTUP_TIMEOUT,
    DEFAULT_STOP_GRACE,
    ENV_URL,
    JAR,
    STATE_FILE,
    HapiServerError,
)

DESCRIPTION = "Build, start and stop a real HAPI FHIR JPA server (FHIR R4, H2) for tests."


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
    if state is not None and is_our_java(state.pid):
        print(state.base_url)
        print(f"already running (pid {state.pid})", file=sys.stderr)
        return 0
    db_dir = Path(args.db) if args.db else None
    jdbc_url = None
    if args.postgres:
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
        java=server.java,
        cds_pending=str(server.cds_pending) if server.cds_pending else None,
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
    if is_our_java(state.pid):
        grace = max(args.grace, CDS_DUMP_GRACE) if state.cds_pending else args.grace
        completed = terminate_pid(state.pid, grace=grace)
        if state.java and state.cds_pending:
            adopt_cds_archive(Path(state.cds_pending), state.java, complete=completed)
        print(f"stopped pid {state.pid}")
    else:
        print(f"not running (stale state: pid {state.pid})")
    STATE_FILE.unlink(missing_ok=True)
    return 0


def _cmd_status(_: argparse.Namespace) -> int:
    state = _read_state()
    if state is None or not is_our_java(state.pid):
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
    parser = argparse.ArgumentParser(description=DESCRIPTION)
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
