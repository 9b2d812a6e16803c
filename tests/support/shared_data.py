"""Locate the genuine Synthea output from other projects, vendored in ``tests/support/data``.

Tests that prove the loader on data we did not generate use it. It is vendored
with its licences (``tests/support/data/synthea-external/README.md``) so a plain clone
passes; ``EHR_AGENT_SYNTHEA_EXTERNAL`` points the tests at another copy. A
missing directory is a broken checkout: skip with the reason on a developer
machine, fail in CI (``CI`` set).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SYNTHEA_EXTERNAL = Path(
    os.environ.get(
        "EHR_AGENT_SYNTHEA_EXTERNAL",
        str(Path(__file__).resolve().parent / "data" / "synthea-external"),
    )
)


def synthea_external(subdirectory: str = "") -> Path:
    """Return ``synthea-external/<subdirectory>``, or skip (fail under CI) if it is missing."""
    path = SYNTHEA_EXTERNAL / subdirectory if subdirectory else SYNTHEA_EXTERNAL
    if path.is_dir():
        return path
    reason = (
        f"external Synthea data not found at {path}; restore tests/support/data/synthea-external "
        "from git or set EHR_AGENT_SYNTHEA_EXTERNAL to a copy of it"
    )
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)
