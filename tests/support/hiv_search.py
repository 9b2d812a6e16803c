"""The HIV Synthea set (genuine output of another project) in a file-backed embedded store,
searched over ASGI: the world of the search-semantics tests.

Why here: ``tests/fhir_client/test_store_search*.py`` search the same store; its fixtures
(``hiv``, ``store``, ``fhir``, ``busiest``) are imported by name (with ``__all__``) where
used, and the helpers below compute expectations from the bundle JSON, never the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from fhir_client.embedded import EMBEDDED_BASE_URL, EmbeddedStore, embedded_asgi_app
from tests.support.shared_data import synthea_external
from tests.support.synthea_sets import Resource, SyntheaSet, load_synthea_dir


@pytest.fixture(scope="module")
def hiv() -> SyntheaSet:
    return load_synthea_dir(synthea_external("fhir-data-pipes-hiv"))


@pytest.fixture(scope="module")
def store(hiv: SyntheaSet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    db = EmbeddedStore(tmp_path_factory.mktemp("store") / "hiv.db")
    db.put_resources(hiv.shared)
    for resources in hiv.patients.values():
        db.put_resources(resources)
    yield db
    db.close()


@pytest.fixture
async def fhir(store: EmbeddedStore) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=embedded_asgi_app(store))
    async with httpx.AsyncClient(transport=transport, base_url=EMBEDDED_BASE_URL + "/") as client:
        yield client


@pytest.fixture(scope="module")
def busiest(hiv: SyntheaSet) -> tuple[str, list[Resource]]:
    """The patient with the most Observations, and their resources."""
    pid = max(
        hiv.patients,
        key=lambda p: sum(r["resourceType"] == "Observation" for r in hiv.patients[p]),
    )
    return pid, hiv.patients[pid]


def of_type(resources: list[Resource], rtype: str) -> list[Resource]:
    return [r for r in resources if r["resourceType"] == rtype]


async def all_ids(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> list[str]:
    """Every id of a search, following next links (so paging is exercised too)."""
    ids: list[str] = []
    response = await client.get(path, params={**params, "_count": "1000"})
    while True:
        assert response.status_code == 200, response.text
        bundle = response.json()
        ids.extend(e["resource"]["id"] for e in bundle.get("entry", []))
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not nxt:
            return ids
        response = await client.get(nxt[0])


def codings(concept: Any) -> list[tuple[str | None, str]]:
    concepts = concept if isinstance(concept, list) else [concept]
    return [(c.get("system"), c["code"]) for cc in concepts if cc for c in cc.get("coding", [])]
