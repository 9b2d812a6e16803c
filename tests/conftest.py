"""Shared fixtures: the committed Synthea fixtures, Synthea datasets in an embedded store,
and a real HAPI FHIR server.

HAPI needs Java and Maven. Where they are missing the HAPI tests skip with
the reason, except when ``EHR_AGENT_REQUIRE_HAPI=1`` (set by ``.ci/run``),
where a missing toolchain is a broken environment and fails the run.
``EHR_AGENT_HAPI_URL`` points the tests at an already running server.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
FIXTURES_DIR = TESTS_DIR.parent / "synthea_fixtures" / "fhir"

sys.path.insert(0, str(TESTS_DIR / "support" / "hapi_server"))
import hapi  # noqa: E402  (tests/support/hapi_server/hapi.py, not an installed package)
import postgres  # noqa: E402  (tests/support/hapi_server/postgres.py, beside it)

from fhir_client import FhirClient  # noqa: E402
from fhir_client.embedded import embedded_client  # noqa: E402
from fhir_client.loading import load_paths  # noqa: E402
from tests.support.tools_datasets import Dataset, load_dataset  # noqa: E402


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


@pytest.fixture(scope="session")
def hapi_with_fixtures(hapi_base_url: str, fixtures_dir: Path) -> str:
    """The HAPI base URL once the fixtures are loaded into it (once per session).

    Only our fixtures go into this server, so any suite can compare it with an
    embedded store holding exactly the same resources.
    """

    async def load() -> None:
        async with FhirClient(hapi_base_url, timeout=600) as client:
            report = await load_paths(client, [fixtures_dir])
        assert not report.failures, [str(failure.error) for failure in report.failures]

    asyncio.run(load())
    return hapi_base_url


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module's ``DATASETS`` names the Synthea sets its ``dataset`` fixture loads.

    Each name is one module-scoped parameter (``test_x[hiv]``), so a module states what it
    runs on in one line and the loading below is written once.
    """
    names = getattr(metafunc.module, "DATASETS", None)
    if names is not None and "dataset" in metafunc.fixturenames:
        metafunc.parametrize("dataset", names, indirect=True, scope="module")


@pytest.fixture(scope="module")
def dataset(request: pytest.FixtureRequest) -> Iterator[Dataset]:
    """A Synthea set (the module's ``DATASETS``, else our fixtures) loaded by the project's
    loader into a fresh in-memory embedded store, with its JSON for ground truth."""
    loaded = load_dataset(getattr(request, "param", "fixtures"))
    yield loaded
    loaded.store.close()


@pytest.fixture
async def fhir(dataset: Dataset) -> AsyncIterator[FhirClient]:
    """A client of the real FHIR facade over the dataset's store."""
    async with embedded_client(dataset.store) as client:
        yield client


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[postgres.PostgresCluster]:
    """A throwaway PostgreSQL cluster for the session (``tests/support/hapi_server/postgres.py``).

    Without Debian's binaries the tests that need it skip, except under
    ``EHR_AGENT_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), where that is a failure.  Not
    under pytest's temp root: that is private to root, and the cluster runs as ``postgres``.
    Each module makes its own database (:meth:`~postgres.PostgresCluster.create_database`).
    """
    if not postgres.available():
        reason = "PostgreSQL is not installed (apt-get install postgresql; .ci/run does)"
        if os.environ.get("EHR_AGENT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (EHR_AGENT_REQUIRE_POSTGRES=1 makes this a failure)")
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="ehr-agent-pg-"))
    try:
        with postgres.PostgresCluster(root, fsync=False) as cluster:
            yield cluster
    finally:
        shutil.rmtree(root, ignore_errors=True)
