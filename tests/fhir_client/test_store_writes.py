"""Writes through the facade: PUT, transaction atomicity, batch partial results."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_client.embedded import (
    EMBEDDED_BASE_URL,
    EmbeddedStore,
    SchemaMismatch,
    StoreError,
    embedded_asgi_app,
)
from tests.support.shared_data import synthea_external
from tests.support.synthea_sets import Resource, load_synthea_dir, transaction_of


@pytest.fixture(scope="module")
def patient_resources() -> list[Resource]:
    data = load_synthea_dir(synthea_external("fhir-data-pipes-hiv"))
    return min(data.patients.values(), key=len)


@pytest.fixture
def store() -> Iterator[EmbeddedStore]:
    db = EmbeddedStore(":memory:")
    yield db
    db.close()


@pytest.fixture
async def fhir(store: EmbeddedStore) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=embedded_asgi_app(store))
    async with httpx.AsyncClient(transport=transport, base_url=EMBEDDED_BASE_URL + "/") as client:
        yield client


async def test_transaction_stores_everything_and_reports_created(
    fhir: httpx.AsyncClient, store: EmbeddedStore, patient_resources: list[Resource]
) -> None:
    response = await fhir.post("", json=transaction_of(patient_resources))
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "transaction-response"
    assert len(bundle["entry"]) == len(patient_resources)
    assert all(e["response"]["status"] == "201 Created" for e in bundle["entry"])
    first = patient_resources[0]
    assert bundle["entry"][0]["response"]["location"] == (
        f"{first['resourceType']}/{first['id']}/_history/1"
    )
    assert sum(store.counts_by_type().values()) == len(patient_resources)

    again = await fhir.post("", json=transaction_of(patient_resources[:3]))
    assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK"] * 3
    stored = store.read(first["resourceType"], first["id"])
    assert stored is not None and stored["meta"]["versionId"] == "2"


async def test_transaction_with_one_bad_entry_stores_nothing(
    fhir: httpx.AsyncClient, store: EmbeddedStore, patient_resources: list[Resource]
) -> None:
    await fhir.post("", json=transaction_of(patient_resources[:5]))
    before = store.counts_by_type()
    snapshot = store.read(patient_resources[0]["resourceType"], patient_resources[0]["id"])

    changed = copy.deepcopy(patient_resources)
    changed[0]["gender"] = "unknown"
    bundle = transaction_of(changed)
    del bundle["entry"][7]["resource"]["id"]
    response = await fhir.post("", json=bundle)

    assert response.status_code == 400
    assert "entry #7" in response.json()["issue"][0]["diagnostics"]
    assert store.counts_by_type() == before
    assert store.read(patient_resources[0]["resourceType"], patient_resources[0]["id"]) == snapshot


async def test_transaction_refuses_other_methods_naming_the_entry(
    fhir: httpx.AsyncClient, store: EmbeddedStore, patient_resources: list[Resource]
) -> None:
    bundle = transaction_of(patient_resources[:4])
    bundle["entry"][2]["request"] = {"method": "POST", "url": "Observation"}
    response = await fhir.post("", json=bundle)
    assert response.status_code == 400
    diagnostics = response.json()["issue"][0]["diagnostics"]
    assert "entry #2" in diagnostics and "POST" in diagnostics
    assert store.is_empty()


async def test_batch_reports_each_entry(
    fhir: httpx.AsyncClient, store: EmbeddedStore, patient_resources: list[Resource]
) -> None:
    bundle = transaction_of(patient_resources[:6], kind="batch")
    bundle["entry"][1]["request"]["url"] = "Patient/some-other-id"
    bundle["entry"][4]["request"]["method"] = "DELETE"
    response = await fhir.post("", json=bundle)
    assert response.status_code == 200
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses == [
        "201 Created",
        "400 Bad Request",
        "201 Created",
        "201 Created",
        "400 Bad Request",
        "201 Created",
    ]
    assert sum(store.counts_by_type().values()) == 4
    assert store.read(patient_resources[1]["resourceType"], patient_resources[1]["id"]) is None


async def test_put_creates_then_updates_and_checks_ids(
    fhir: httpx.AsyncClient, store: EmbeddedStore, patient_resources: list[Resource]
) -> None:
    patient = next(r for r in patient_resources if r["resourceType"] == "Patient")
    created = await fhir.put(f"Patient/{patient['id']}", json=patient)
    assert created.status_code == 201
    assert created.json()["meta"]["versionId"] == "1"
    updated = await fhir.put(f"Patient/{patient['id']}", json=patient)
    assert updated.status_code == 200 and updated.json()["meta"]["versionId"] == "2"
    assert updated.headers["etag"] == 'W/"2"'

    mismatch = await fhir.put("Patient/another-id", json=patient)
    assert mismatch.status_code == 400
    assert "another-id" in mismatch.json()["issue"][0]["diagnostics"]
    wrong_type = await fhir.put(f"Observation/{patient['id']}", json=patient)
    assert wrong_type.status_code == 400
    assert store.counts_by_type() == {"Patient": 1}


async def test_delete_removes_resource_and_its_index_rows(
    fhir: httpx.AsyncClient, store: EmbeddedStore, patient_resources: list[Resource]
) -> None:
    await fhir.post("", json=transaction_of(patient_resources))
    observation = next(r for r in patient_resources if r["resourceType"] == "Observation")
    response = await fhir.delete(f"Observation/{observation['id']}")
    assert response.status_code == 200
    assert (await fhir.get(f"Observation/{observation['id']}")).status_code == 404
    search = await fhir.get("Observation", params={"_id": observation["id"]})
    assert search.json()["total"] == 0


def test_put_resources_names_the_bad_position() -> None:
    store = EmbeddedStore(":memory:")
    good: dict[str, Any] = {"resourceType": "Patient", "id": "p1"}
    with pytest.raises(StoreError, match="#1") as caught:
        store.put_resources([good, {"resourceType": "Patient", "id": "bad id!"}])
    assert caught.value.index == 1
    with pytest.raises(StoreError, match=r"#0.*resourceType"):
        store.put_resources([{"id": "x"}])
    with pytest.raises(StoreError, match="appears twice"):
        store.put_resources([good, good])
    assert store.is_empty()
    store.close()


def test_file_store_persists_and_refuses_other_schema_versions(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = EmbeddedStore(path)
    store.put_resources([{"resourceType": "Patient", "id": "p1", "gender": "female"}])
    store.close()
    reopened = EmbeddedStore(path)
    patient = reopened.read("Patient", "p1")
    assert patient is not None and patient["gender"] == "female"
    reopened.close()

    import sqlite3

    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE store_meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(SchemaMismatch, match="999"):
        EmbeddedStore(path)
