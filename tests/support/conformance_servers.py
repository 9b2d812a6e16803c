"""An embedded store and a real HAPI FHIR server holding the same Synthea fixtures: the
pair the conformance tests compare.

Why here: ``tests/e2e/hapi/test_conformance_hapi*.py`` (the same searches on both; the
read-only server's features, HAPI as the reference) compare the same pair; the
``servers`` fixture is imported by name (with ``__all__``) where used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.loading import load_paths

PAGE = {"_count": "500"}


@dataclass
class LoadedServers:
    """An embedded store and a HAPI base URL holding the same fixtures."""

    store: EmbeddedStore
    hapi_url: str
    resources_loaded: int


def fixture_patients(fixtures_dir: Path) -> list[Path]:
    return sorted(p for p in fixtures_dir.glob("*.json") if "Information" not in p.name)


@pytest.fixture(scope="module")
def servers(fixtures_dir: Path, hapi_with_fixtures: str) -> Iterator[LoadedServers]:
    """An embedded store loaded like the session's HAPI server, through the same loader."""

    async def load_embedded(store: EmbeddedStore) -> int:
        async with embedded_client(store) as embedded:
            report = await load_paths(embedded, [fixtures_dir])
        assert not report.failures, [str(f.error) for f in report.failures]
        return report.resource_count

    store = EmbeddedStore(":memory:")
    loaded = LoadedServers(store, hapi_with_fixtures, asyncio.run(load_embedded(store)))
    yield loaded
    store.close()
