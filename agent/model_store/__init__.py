"""Getting GGUF models into the local cache and seeing what is there.

``hub`` speaks the Hugging Face hub's HTTP API, ``download`` turns one hub
file into a verified cache file, ``cache`` lists the cache, ``catalog``
names the MedGemma defaults. Nothing here prints: callers pass a progress
callback and show the errors, whose messages are written for the user.
"""

from __future__ import annotations

from agent.model_store.auth import HubToken, find_token, hub_endpoint
from agent.model_store.cache import CachedFile, list_cache
from agent.model_store.catalog import (
    DEFAULT_QUANT,
    MEDGEMMA_MMPROJ,
    MEDGEMMA_REPO,
    gguf_filename,
    mmproj_local_name,
)
from agent.model_store.download import ProgressCallback, PulledFile, pull_file
from agent.model_store.errors import (
    ChecksumMismatch,
    DownloadInterrupted,
    GatedRepository,
    HubError,
    HubUnreachable,
    InsufficientSpace,
    ModelStoreError,
    RemoteFileNotFound,
)
from agent.model_store.hub import Hub, RemoteFile, RepoEntry

__all__ = [
    "DEFAULT_QUANT",
    "MEDGEMMA_MMPROJ",
    "MEDGEMMA_REPO",
    "CachedFile",
    "ChecksumMismatch",
    "DownloadInterrupted",
    "GatedRepository",
    "Hub",
    "HubError",
    "HubToken",
    "HubUnreachable",
    "InsufficientSpace",
    "ModelStoreError",
    "ProgressCallback",
    "PulledFile",
    "RemoteFile",
    "RemoteFileNotFound",
    "RepoEntry",
    "find_token",
    "gguf_filename",
    "hub_endpoint",
    "list_cache",
    "mmproj_local_name",
    "pull_file",
]
