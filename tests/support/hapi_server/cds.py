"""Class-data sharing for the HAPI JVM: an archive of loaded classes that makes start-up
about a quarter shorter.

Why its own module: the archive spans two processes' lifetimes (recorded by one start,
adopted when that JVM stops, possibly by a later ``hapi.py stop``), so both the server
object and the command line use these helpers.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from pathlib import Path

from tests.support.hapi_server.settings import ENV_NO_CDS, JAR, TARGET


def _cds_archive(java: str) -> Path:
    """The class-data-sharing archive for this JVM and the current build (in target/)."""
    java_id = hashlib.sha1(str(Path(java).resolve()).encode()).hexdigest()[:10]
    return TARGET / f"hapi-server-{java_id}.jsa"


def cds_flags(java: str) -> tuple[list[str], Path | None]:
    """Class-data sharing: reuse (or, the first time, record) an archive of loaded classes.

    With the archive start-up is ~25 % shorter. It is specific to the JVM and the exact
    classpath, so it lives in target/ and every build deletes it; the first start after a
    build records it to a private file (written by the JVM when it exits) that
    :func:`adopt_cds_archive` renames into place. A stale archive is ignored by the JVM.
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


def adopt_cds_archive(pending: Path | None, java: str, *, complete: bool) -> None:
    """Move a recorded archive into place; drop it if the JVM was killed while writing."""
    if pending is None:
        return
    with contextlib.suppress(OSError):
        if complete and pending.is_file() and pending.stat().st_size > 0:
            os.replace(pending, _cds_archive(java))
        pending.unlink(missing_ok=True)
