"""Errors raised while loading Synthea bundles.

They live apart from the REST client's errors because a loading failure is
about a *file* (which one, which entry), not about an HTTP exchange; the user
fixes it by fixing or removing that file.
"""

from __future__ import annotations

from pathlib import Path


class BundleLoadError(Exception):
    """A bundle file could not be loaded; nothing from it reached the server.

    ``entry_index`` is the 0-based position in the file's ``entry`` array when
    the problem is tied to one entry, else ``None`` (unreadable file, server
    refusal without an entry position).
    """

    def __init__(self, path: Path, entry_index: int | None, message: str) -> None:
        self.path = path
        self.entry_index = entry_index
        self.message = message
        where = str(path) if entry_index is None else f"{path}, entry {entry_index}"
        super().__init__(f"{where}: {message}")


class DanglingReferenceError(ValueError):
    """A ``urn:uuid:`` reference names no entry of its own bundle.

    Synthea writes self-contained transaction bundles, so this means the file
    was cut or edited; guessing a target would produce a wrong citation.
    """

    def __init__(self, reference: str) -> None:
        self.reference = reference
        super().__init__(
            f"reference {reference!r} points to no entry in this bundle "
            "(the file looks truncated or edited; regenerate it with Synthea)"
        )
