"""Download one hub file into the model cache: resumable, verified, atomic.

Why this shape: a 2.3 GB GGUF over a laptop's connection gets interrupted,
so bytes go to ``<name>.part`` and a rerun continues it with ``Range``.
The SHA-256 is computed while writing (the kept prefix is hashed once on
resume), and the file is renamed into place only when it matches, so a
truncated or corrupt file never carries the name ``find_medgemma`` looks for.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from agent.model_store.cache import PART_SUFFIX, read_marker, sha256_file, write_marker
from agent.model_store.catalog import local_name as default_local_name
from agent.model_store.errors import (
    ChecksumMismatch,
    DownloadInterrupted,
    HubError,
    InsufficientSpace,
)
from agent.model_store.hub import Hub, RemoteFile, origin_of

if TYPE_CHECKING:
    from hashlib import _Hash

__all__ = ["ProgressCallback", "PulledFile", "pull_file"]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int | None], None]
"""Called with (bytes in hand, total bytes or None) as a download advances."""

CHUNK_BYTES = 1 << 20
SPACE_MARGIN_BYTES = 64 << 20
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True)
class PulledFile:
    """The outcome of :func:`pull_file`."""

    path: Path
    sha256: str
    size: int
    resumed_from: int
    """Bytes of an earlier ``.part`` that were kept rather than fetched again."""
    already_present: bool
    """True when the cache already held the verified file and nothing was fetched."""


class _Restart(Exception):
    """The server sent the whole file (or another range): start the .part over."""


class _Broken(Exception):
    """The body stopped early; the .part is kept for the next attempt."""


@dataclass
class _Partial:
    """The ``.part`` file, its length and the running hash of its bytes."""

    path: Path
    offset: int = 0
    hasher: _Hash = field(default_factory=hashlib.sha256)

    def restart(self) -> None:
        self.path.unlink(missing_ok=True)
        self.offset = 0
        self.hasher = hashlib.sha256()


def pull_file(
    hub: Hub,
    repo: str,
    filename: str,
    *,
    revision: str = "main",
    directory: Path | None = None,
    local_name: str | None = None,
    expected_sha256: str | None = None,
    on_progress: ProgressCallback | None = None,
    attempts: int = 3,
    retry_delay_seconds: float = 2.0,
) -> PulledFile:
    """Fetch ``repo``/``filename`` into ``directory`` (default: the hub's cache dir).

    Raises a :class:`~agent.model_store.errors.ModelStoreError` whose message
    says what to do. ``expected_sha256`` overrides the hub's digest (for
    mirrors that do not publish one). Broken transfers are resumed up to
    ``attempts`` times within this call; after that the ``.part`` is kept.
    """
    directory = directory if directory is not None else hub.cache_dir
    directory.mkdir(parents=True, exist_ok=True)
    remote = hub.resolve(repo, filename, revision)
    sha256 = (expected_sha256 or remote.sha256 or "").lower()
    if not sha256:
        raise HubError(
            f"{origin_of(hub.endpoint)} gave no SHA-256 for {repo}/{filename}, so the download "
            "could not be verified; pass the expected digest with --sha256."
        )
    target = directory / (local_name or default_local_name(filename))
    if _already_there(target, sha256):
        size = target.stat().st_size
        return PulledFile(target, sha256, size, resumed_from=0, already_present=True)
    partial = _open_partial(target, remote.size, on_progress)
    resumed_from = partial.offset
    _check_space(directory, remote.size, partial.offset)
    for attempt in range(1, attempts + 1):
        try:
            _transfer(hub, remote, partial, on_progress)
            break
        except (_Broken, _Restart) as error:
            if attempt == attempts:
                raise DownloadInterrupted(
                    f"the download of {filename} broke off at {partial.offset:,} of "
                    f"{_size_text(remote.size)} bytes ({error}); the partial file "
                    f"{partial.path} was kept: run the command again to resume."
                ) from error
            log.info("download interrupted (%s); resuming at byte %d", error, partial.offset)
            time.sleep(retry_delay_seconds * attempt)
    _finish(partial, target, sha256)
    return PulledFile(target, sha256, partial.offset, resumed_from, already_present=False)


def _already_there(target: Path, sha256: str) -> bool:
    """The target exists with the right digest (sidecar, or hashed now and recorded)."""
    if not target.is_file():
        return False
    if read_marker(target) == sha256:
        return True
    if sha256_file(target).hexdigest() == sha256:
        write_marker(target, sha256)
        return True
    return False


def _open_partial(target: Path, size: int | None, on_progress: ProgressCallback | None) -> _Partial:
    """The ``.part`` to continue, its prefix hashed; an oversized one is discarded."""
    partial = _Partial(target.with_name(target.name + PART_SUFFIX))
    if not partial.path.is_file():
        return partial
    kept = partial.path.stat().st_size
    if size is not None and kept > size:
        partial.restart()
        return partial
    partial.hasher = sha256_file(partial.path)
    partial.offset = kept
    if on_progress is not None:
        on_progress(kept, size)
    return partial


def _check_space(directory: Path, size: int | None, offset: int) -> None:
    if size is None:
        return
    needed = size - offset
    free = shutil.disk_usage(directory).free
    if free < needed + SPACE_MARGIN_BYTES:
        raise InsufficientSpace(
            f"{directory} has {free / 1e9:.1f} GB free but the download needs "
            f"{needed / 1e9:.1f} GB more; free some space or set EHR_AGENT_MODELS "
            "to another folder."
        )


def _transfer(
    hub: Hub, remote: RemoteFile, partial: _Partial, on_progress: ProgressCallback | None
) -> None:
    """One GET (with ``Range`` when resuming) appended to the ``.part``."""
    if remote.size is not None and partial.offset == remote.size:
        return  # the .part is whole already; _finish verifies it
    headers = hub.headers()
    if partial.offset:
        headers["Range"] = f"bytes={partial.offset}-"
    try:
        with hub.client.stream("GET", remote.url, headers=headers, follow_redirects=True) as reply:
            if reply.status_code == 416:
                return  # nothing past our offset: complete, or invalid; _finish decides
            if reply.status_code >= 400:
                hub.raise_for_status(reply, remote.repo, remote.filename, remote.revision)
            _check_start(reply, partial)
            total = remote.size if remote.size is not None else _total_of(reply, partial.offset)
            _append(reply, partial, total, on_progress)
    except (httpx.ConnectError, httpx.ConnectTimeout) as error:
        note = (
            f" The partial download ({partial.offset:,} bytes) was kept: rerun to resume."
            if partial.offset
            else ""
        )
        raise hub.unreachable(error, note=note) from error
    except httpx.TransportError as error:
        raise _Broken(str(error) or type(error).__name__) from error
    if remote.size is not None and partial.offset < remote.size:
        raise _Broken(f"the server sent {partial.offset:,} of {remote.size:,} bytes")


def _check_start(reply: httpx.Response, partial: _Partial) -> None:
    """Accept a 206 that starts at our offset; a 200 means the server sends it all."""
    if reply.status_code == 206:
        match = _CONTENT_RANGE.fullmatch(reply.headers.get("content-range", "").strip())
        if match is None or int(match.group(1)) != partial.offset:
            partial.restart()
            raise _Restart("the server resumed at another byte than asked")
        return
    if partial.offset:
        log.info("server ignored the Range request; downloading from the start")
        partial.restart()


def _append(
    reply: httpx.Response,
    partial: _Partial,
    total: int | None,
    on_progress: ProgressCallback | None,
) -> None:
    with partial.path.open("ab") as handle:
        for chunk in reply.iter_bytes(CHUNK_BYTES):
            handle.write(chunk)
            partial.hasher.update(chunk)
            partial.offset += len(chunk)
            if on_progress is not None:
                on_progress(partial.offset, total)
            if total is not None and partial.offset > total:
                break  # longer than the hub said: _finish rejects it
        handle.flush()
        os.fsync(handle.fileno())


def _finish(partial: _Partial, target: Path, sha256: str) -> None:
    """Rename the ``.part`` into place only when its SHA-256 matches; else delete it."""
    partial.path.touch()  # a zero-byte file never opened the .part
    got = partial.hasher.hexdigest()
    if got != sha256:
        partial.path.unlink(missing_ok=True)
        raise ChecksumMismatch(
            f"checksum mismatch for {target.name}: expected {sha256}, got {got}; "
            "the download was removed, run the command again."
        )
    os.replace(partial.path, target)
    write_marker(target, sha256)


def _total_of(reply: httpx.Response, offset: int) -> int | None:
    match = _CONTENT_RANGE.fullmatch(reply.headers.get("content-range", "").strip())
    if match and match.group(3) != "*":
        return int(match.group(3))
    length = reply.headers.get("content-length")
    return offset + int(length) if length and length.isdigit() else None


def _size_text(size: int | None) -> str:
    return f"{size:,}" if size is not None else "an unknown number of"
