"""Skip or fail when a test's real dependency (a server, a toolchain, a browser) is missing.

On a developer machine a missing toolchain skips the test with the reason.  In CI the
matching ``EHR_AGENT_REQUIRE_<NAME>=1`` (set by ``.ci/run``) says the environment is meant
to have it, so its absence is a broken environment and fails the run.  One rule, named
once, for every e2e tier's conftest.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def skip_or_fail(reason: str, requirement: str) -> NoReturn:
    """Skip with ``reason``, or fail when ``EHR_AGENT_REQUIRE_<requirement>=1``."""
    variable = f"EHR_AGENT_REQUIRE_{requirement}"
    if os.environ.get(variable) == "1":
        pytest.fail(f"{reason} ({variable}=1 makes this a failure)")
    pytest.skip(reason)
