"""Fixtures every tier uses: the committed Synthea fixtures, and a Synthea dataset loaded
into an embedded store (a module's ``DATASETS`` picks which).

Each tier has its own conftest for what only it needs; the real servers several tiers
share (HAPI FHIR, PostgreSQL) are fixtures in ``tests/support/servers.py`` that a tier's
conftest imports, and each ``tests/e2e/<tier>/conftest.py`` owns that tier's
skip-or-fail rule (``tests/support/requirements.py``).

The read-only HAPI server (``hapi_with_fixtures``) is imported here, once: a session
fixture imported by two conftests is two fixtures, and each started its own HAPI (about a
minute of Java start-up and loading per copy).  ``tests/fhir_client`` (patient listing)
and ``tests/tools`` (the tools over HAPI) only read it; ``tests/e2e/hapi`` writes to its
server, so it keeps its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from fhir_client import FhirClient
from fhir_client.embedded import embedded_client
from tests.support.servers import hapi_base_url, hapi_with_fixtures
from tests.support.tools_datasets import Dataset, load_dataset

__all__ = ["dataset", "fhir", "fixtures_dir", "hapi_base_url", "hapi_with_fixtures"]

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "synthea_fixtures" / "fhir"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The committed Synthea output (patients plus hospital/practitioner bundles)."""
    if not any(FIXTURES_DIR.glob("*.json")):
        pytest.fail(f"no Synthea fixtures in {FIXTURES_DIR}; run synthea_fixtures/generate.sh")
    return FIXTURES_DIR


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
