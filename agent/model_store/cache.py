"""What is in the model cache, and which files were verified against the hub.

Why a ``<name>.sha256`` sidecar: hashing a 2.3 GB GGUF takes seconds, too
slow for every ``model list``. A pull writes the sidecar (``sha256sum``
format, so ``sha256sum -c`` works too) only after the hash matched; a file
changed afterwards is newer than its sidecar and shows as unverified.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hashlib import _Hash

__all__ = [
    "PART_SUFFIX",
    "CachedFile",
    "list_cache",
    "read_marker",
    "sha256_file",
    "write_marker",
]

PART_SUFFIX = ".part"
MARKER_SUFFIX = ".sha256"
_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class CachedFile:
    """One GGUF (or unfinished download) in the cache."""

    path: Path
    size: int
    sha256: str | None
    """The digest recorded when a pull verified it, if it did and it is unchanged."""
    partial: bool

    @property
    def verified(self) -> bool:
        """True when a pull checked this exact file against the hub's SHA-256."""
        return self.sha256 is not None


def sha256_file(
    path: Path,
    hasher: _Hash | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> _Hash:
    """Feed ``path`` into ``hasher`` (a new SHA-256 by default) and return it."""
    digest = hasher if hasher is not None else hashlib.sha256()
    done = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if on_bytes is not None:
                on_bytes(done)
    return digest


def marker_path(path: Path) -> Path:
    """The sidecar that records ``path``'s verified digest."""
    return path.with_name(path.name + MARKER_SUFFIX)


def write_marker(path: Path, sha256: str) -> None:
    """Record that ``path`` hashed to ``sha256`` (written after the file, so newer)."""
    marker_path(path).write_text(f"{sha256}  {path.name}\n", encoding="utf-8")


def read_marker(path: Path) -> str | None:
    """The verified digest of ``path``, or None if unverified or modified since."""
    marker = marker_path(path)
    try:
        if marker.stat().st_mtime_ns < path.stat().st_mtime_ns:
            return None
        digest, _, name = marker.read_text(encoding="utf-8").strip().partition("  ")
    except (OSError, UnicodeDecodeError):
        return None
    return digest if name == path.name and len(digest) == 64 else None


def list_cache(directory: Path) -> list[CachedFile]:
    """GGUF files and unfinished ``.gguf.part`` downloads in ``directory``, by name."""
    if not directory.is_dir():
        return []
    found: list[CachedFile] = []
    for path in sorted(directory.iterdir()):
        partial = path.name.endswith(".gguf" + PART_SUFFIX)
        if not (partial or path.name.endswith(".gguf")) or not path.is_file():
            continue
        size = os.stat(path).st_size
        found.append(CachedFile(path, size, None if partial else read_marker(path), partial))
    return found
