"""The embedded store through the real FhirClient (in-process ASGI transport)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.errors import InvalidRequest, ResourceNotFound
from tests.support.shared_data import synthea_external
from tests.support.synthea_sets import SyntheaSet, load_synthea_dir, transaction_of


@pytest.fixture(scope="module")
def hiv() -> SyntheaSet:
    return load_synthea_dir(synthea_external("fhir-data-pipes-hiv"))


@pytest.fixture(scope="module")
def store(hiv: SyntheaSet) -> Iterator[EmbeddedStore]:
    db = EmbeddedStore(":memory:")
    db.put_resources(hiv.all_resources())
    yield db
    db.close()


async def test_search_pages_through_the_client(store: EmbeddedStore, hiv: SyntheaSet) -> None:
    pid, resources = max(hiv.patients.items(), key=lambda item: len(item[1]))
    expected = {r["id"] for r in resources if r["resourceType"] == "Observation"}
    async with embedded_client(store, page_size=25, max_pages=100) as fhir:
        found = await fhir.search("Observation", {"patient": pid, "_sort": "-date"})
        assert len(found) == len(expected) and {r["id"] for r in found} == expected
        assert await fhir.count("Observation", {"patient": pid}) == len(expected)


async def test_read_everything_and_capabilities(store: EmbeddedStore, hiv: SyntheaSet) -> None:
    pid, resources = next(iter(hiv.patients.items()))
    async with embedded_client(store) as fhir:
        patient = await fhir.read("Patient", pid)
        assert patient["id"] == pid
        record = await fhir.everything(pid)
        keys = {f"{r['resourceType']}/{r['id']}" for r in record}
        assert {f"{r['resourceType']}/{r['id']}" for r in resources} <= keys
        statement = await fhir.capabilities()
        assert statement["fhirVersion"] == "4.0.1"
        with pytest.raises(ResourceNotFound):
            await fhir.read("Patient", "nobody")
        with pytest.raises(InvalidRequest, match="frobnicate"):
            await fhir.search("Observation", {"frobnicate": "1"})


async def test_loader_style_transaction_and_update() -> None:
    data = load_synthea_dir(synthea_external("fhir-data-pipes-hiv"))
    resources = min(data.patients.values(), key=len)
    store = EmbeddedStore(":memory:")
    try:
        async with embedded_client(store) as fhir:
            response = await fhir.transaction(transaction_of(resources))
            assert response["type"] == "transaction-response"
            assert store.counts_by_type() != {}
            patient = next(r for r in resources if r["resourceType"] == "Patient")
            updated = await fhir.update({**patient, "gender": "other"})
            assert updated["gender"] == "other" and updated["meta"]["versionId"] == "2"
    finally:
        store.close()
