"""Locate the genuine Synthea output shared between projects (never copied into the repo).

Tests that prove the loader on data we did not generate use it. On a
developer machine without it they skip with the reason; in CI (``CI`` set)
its absence is a broken environment, so they fail instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SYNTHEA_EXTERNAL = Path(
    os.environ.get(
        "EHR_AGENT_SYNTHEA_EXTERNAL",
        str(Path(__file__).resolve().parents[2] / "shared" / "synthea-external"),
    )
)


def synthea_external(subdirectory: str = "") -> Path:
    """Return ``synthea-external/<subdirectory>``, or skip (fail under CI) if it is missing."""
    path = SYNTHEA_EXTERNAL / subdirectory if subdirectory else SYNTHEA_EXTERNAL
    if path.is_dir():
        return path
    reason = (
        f"shared Synthea data not found at {path}; set EHR_AGENT_SYNTHEA_EXTERNAL "
        "to the synthea-external directory"
    )
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)
