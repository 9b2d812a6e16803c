"""Building the HAPI server jar with Maven, once, and only when its sources changed.

Why a lock: parallel test sessions (and a bench next to them) may all find the jar stale;
one runs Maven, the others wait and then find it fresh.
"""

from __future__ import annotations

import fcntl
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.support.hapi_server.settings import (
    HERE,
    JAR,
    LIB,
    POM,
    SRC,
    TARGET,
    HapiServerError,
    find_maven,
)


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
