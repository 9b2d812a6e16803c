"""The HIV Synthea set (genuine output of another project) in an in-memory embedded store,
served as a FHIR R4 server over ASGI: the world of the FHIR-server tests.

Why here: ``tests/fhir_client/test_store_fhir_server*.py`` ask the same server; its
fixtures (``hiv``, ``store``, ``http``) are imported by name (with ``__all__``) where used,
and the helpers below read the bundle JSON, never the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from fhir_client.embedded import EmbeddedStore, embedded_asgi_app
from tests.support.hiv_search import hiv
from tests.support.synthea_sets import Resource, SyntheaSet

__all__ = ["BASE", "hiv", "http", "keys", "references", "smallest", "store"]

BASE = "http://embedded.local/fhir"


@pytest.fixture(scope="module")
def store(hiv: SyntheaSet) -> Iterator[EmbeddedStore]:
    db = EmbeddedStore(":memory:")
    db.put_resources(hiv.all_resources())
    yield db
    db.close()


@pytest.fixture
async def http(store: EmbeddedStore) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=embedded_asgi_app(store))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


def keys(bundle: Resource, mode: str) -> set[str]:
    return {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == mode
    }


def references(node: Any) -> Iterator[str]:
    """Every ``reference`` string in a resource, as the bundle JSON has it."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def smallest(hiv: SyntheaSet) -> tuple[str, list[Resource]]:
    return min(hiv.patients.items(), key=lambda item: len(item[1]))
