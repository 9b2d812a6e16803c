"""What can go wrong while pulling a model, each with a message the user can act on.

Why one small hierarchy: the CLI catches :class:`ModelStoreError` and prints
its message as is, so every message here must say what to do next. None of
them may contain the hub token: messages are built from URLs, repository and
file names and HTTP status codes only.
"""

from __future__ import annotations

__all__ = [
    "ChecksumMismatch",
    "DownloadInterrupted",
    "GatedRepository",
    "HubError",
    "HubUnreachable",
    "InsufficientSpace",
    "ModelStoreError",
    "RemoteFileNotFound",
]


class ModelStoreError(Exception):
    """Base class: the message is meant for the user, verbatim."""


class HubUnreachable(ModelStoreError):
    """No connection to the hub (offline, DNS failure, refused, timed out)."""


class GatedRepository(ModelStoreError):
    """401/403: no token, a wrong token, or the model's terms not accepted yet."""


class RemoteFileNotFound(ModelStoreError):
    """404: the repository has no such file (the message lists what it has)."""


class HubError(ModelStoreError):
    """Any other unexpected answer from the hub or its CDN."""


class ChecksumMismatch(ModelStoreError):
    """The downloaded bytes do not hash to the hub's SHA-256; they were deleted."""


class DownloadInterrupted(ModelStoreError):
    """The transfer broke off; the partial file was kept so a rerun resumes it."""


class InsufficientSpace(ModelStoreError):
    """The cache's disk cannot hold the rest of the file."""
