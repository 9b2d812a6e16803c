"""Which repository and file names ``ehr-agent model pull`` uses by default.

Why derive names instead of hard-coding one URL: unsloth names every quant
``<repo name without -GGUF>-<QUANT>.gguf`` (``medgemma-1.5-4b-it-Q4_K_M.gguf``),
which is exactly what :data:`agent.models.spec.MEDGEMMA_GLOB` looks for, so
``--quant`` alone picks another size and ``medgemma`` still finds it.
"""

from __future__ import annotations

from pathlib import PurePosixPath

__all__ = [
    "DEFAULT_QUANT",
    "MEDGEMMA_MMPROJ",
    "MEDGEMMA_REPO",
    "gguf_filename",
    "local_name",
    "mmproj_local_name",
]

MEDGEMMA_REPO = "unsloth/medgemma-1.5-4b-it-GGUF"
DEFAULT_QUANT = "Q4_K_M"
MEDGEMMA_MMPROJ = "mmproj-F16.gguf"
"""The vision projector; only needed for images, which this agent does not send."""


def _model_stem(repo: str) -> str:
    name = repo.rstrip("/").rsplit("/", 1)[-1]
    return name[: -len("-GGUF")] if name.upper().endswith("-GGUF") else name


def gguf_filename(repo: str, quant: str) -> str:
    """The file for ``quant`` in ``repo`` by unsloth's naming, e.g. ``...-Q4_K_M.gguf``."""
    return f"{_model_stem(repo)}-{quant}.gguf"


def local_name(filename: str) -> str:
    """The cache file name for a hub path: its last component (repos may use folders)."""
    return PurePosixPath(filename).name


def mmproj_local_name(repo: str, filename: str) -> str:
    """Cache name for a projector, prefixed with the model so ``mmproj-F16.gguf``s don't collide.

    The prefix keeps it next to its model in listings; ``find_medgemma`` skips
    any name containing ``mmproj``, so it is never mistaken for the model.
    """
    name = local_name(filename)
    stem = _model_stem(repo)
    return name if name.startswith(stem) else f"{stem}-{name}"
