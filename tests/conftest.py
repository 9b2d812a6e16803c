"""Shared fixtures: the committed Synthea fixtures and a real HAPI FHIR server.

HAPI needs Java and Maven. Where they are missing the HAPI tests skip with
the reason, except when ``EHR_AGENT_REQUIRE_HAPI=1`` (set by ``.ci/run``),
where a missing toolchain is a broken environment and fails the run.
``EHR_AGENT_HAPI_URL`` points the tests at an already running server.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
FIXTURES_DIR = TESTS_DIR.parent / "synthea_fixtures" / "fhir"

sys.path.insert(0, str(TESTS_DIR / "hapi_server"))
import hapi  # noqa: E402  (tests/hapi_server/hapi.py, not an installed package)


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("EHR_AGENT_REQUIRE_HAPI") == "1":
        pytest.fail(f"{reason} (EHR_AGENT_REQUIRE_HAPI=1 makes this a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def hapi_base_url() -> Iterator[str]:
    """Base URL of a HAPI FHIR JPA server started for this test session."""
    external = hapi.external_base_url()
    if external:
        yield external
        return
    if hapi.find_java() is None or hapi.find_maven() is None:
        _skip_or_fail("HAPI FHIR tests need java and mvn on PATH")
    with hapi.HapiServer() as server:
        yield server.base_url


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The committed Synthea output (patients plus hospital/practitioner bundles)."""
    if not any(FIXTURES_DIR.glob("*.json")):
        pytest.fail(f"no Synthea fixtures in {FIXTURES_DIR}; run synthea_fixtures/generate.sh")
    return FIXTURES_DIR
