"""Operating-system helpers for the server process: a free port, is a pid still our Java,
stopping a pid politely then firmly, the tail of a log.

Why apart from ``HapiServer``: ``hapi.py stop`` ends a server started by an earlier
``hapi.py start`` (only its pid survives, in the state file), so these work on a bare pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path

from tests.support.hapi_server.settings import DEFAULT_STOP_GRACE, JAR_MARKER


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def is_our_java(pid: int) -> bool:
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
