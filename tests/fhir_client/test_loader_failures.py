"""A bundle that cannot be loaded changes nothing, and the error says where it broke."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from fhir_client.client import FhirClient
from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.loading import BundleLoadError, load_paths
from tests.support.shared_data import synthea_external

SMALL_PATIENT = "Bob965_Keeling57_3f6fd0bb-6cd3-eb3f-4401-cd38ace25f2b.json"
OTHER_PATIENT = "Cecelia952_Romaguera67_f1731e33-dc55-4ee8-72d7-cece2e49bedd.json"

Corruption = Callable[[dict[str, Any]], int]


@pytest.fixture
def store() -> EmbeddedStore:
    return EmbeddedStore(":memory:")


@pytest.fixture
async def client(store: EmbeddedStore) -> AsyncIterator[FhirClient]:
    async with embedded_client(store, timeout=600.0) as fhir:
        yield fhir
    store.close()


@pytest.fixture
def source_bundle() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (synthea_external("fhir-data-pipes-hiv") / SMALL_PATIENT).read_bytes()
    )
    return document


async def _preload_other_patient(client: FhirClient, store: EmbeddedStore) -> dict[str, int]:
    report = await load_paths(client, [synthea_external("fhir-data-pipes-hiv") / OTHER_PATIENT])
    assert report.failures == []
    return store.counts_by_type()


def _index_of(bundle: dict[str, Any], resource_type: str, nth: int = 0) -> int:
    positions = [
        i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == resource_type
    ]
    return positions[nth]


def _entry_not_an_object(bundle: dict[str, Any]) -> int:
    index = len(bundle["entry"]) - 1
    bundle["entry"][index]["resource"] = "not a resource"
    return index


def _invalid_observation_value(bundle: dict[str, Any]) -> int:
    index = _index_of(bundle, "Observation", nth=-1)
    bundle["entry"][index]["resource"]["valueQuantity"] = {"value": "seven"}
    return index


def _dangling_urn_uuid(bundle: dict[str, Any]) -> int:
    index = _index_of(bundle, "Encounter", nth=-1)
    bundle["entry"][index]["resource"]["subject"]["reference"] = "urn:uuid:nobody"
    return index


@pytest.mark.parametrize(
    ("corrupt", "expected_message"),
    [
        (_entry_not_an_object, "no resource with a resourceType"),
        (_invalid_observation_value, "is not valid FHIR R4: Observation.valueQuantity.value"),
        (_dangling_urn_uuid, "urn:uuid:nobody"),
    ],
)
async def test_a_broken_entry_is_named_and_nothing_is_stored(
    tmp_path: Path,
    client: FhirClient,
    store: EmbeddedStore,
    source_bundle: dict[str, Any],
    corrupt: Corruption,
    expected_message: str,
) -> None:
    before = await _preload_other_patient(client, store)
    broken_index = corrupt(source_bundle)
    broken = tmp_path / SMALL_PATIENT
    broken.write_text(json.dumps(source_bundle))

    report = await load_paths(client, [broken])

    [failure] = report.failures
    assert isinstance(failure.error, BundleLoadError)
    assert failure.error.path == broken.resolve()
    assert failure.error.entry_index == broken_index
    assert expected_message in str(failure.error)
    assert f"{broken.resolve()}, entry {broken_index}:" in str(failure.error)
    assert store.counts_by_type() == before


async def test_a_truncated_file_is_named_and_the_other_files_still_load(
    tmp_path: Path, client: FhirClient, store: EmbeddedStore
) -> None:
    source = synthea_external("fhir-data-pipes-hiv")
    text = (source / SMALL_PATIENT).read_bytes()
    truncated = tmp_path / SMALL_PATIENT
    truncated.write_bytes(text[: len(text) // 2])
    good = tmp_path / OTHER_PATIENT
    good.write_bytes((source / OTHER_PATIENT).read_bytes())

    report = await load_paths(client, [tmp_path])

    [failure] = report.failures
    assert failure.error is not None and failure.error.entry_index is None
    assert str(failure.error).startswith(f"{truncated.resolve()}: not valid JSON")
    assert [r.path.name for r in report.loaded_files] == [OTHER_PATIENT]
    patient_id = SMALL_PATIENT.removesuffix(".json").split("_")[-1]
    assert store.read("Patient", patient_id) is None


async def test_a_server_refusal_rolls_back_the_whole_bundle(
    tmp_path: Path, client: FhirClient, store: EmbeddedStore, source_bundle: dict[str, Any]
) -> None:
    """Without our validation the server is the last line; its transaction is atomic."""
    before = await _preload_other_patient(client, store)
    last = source_bundle["entry"][-1]["resource"]
    last["id"] = "not a valid id!"
    broken = tmp_path / SMALL_PATIENT
    broken.write_text(json.dumps(source_bundle))

    report = await load_paths(client, [broken], validate=False)

    [failure] = report.failures
    assert failure.error is not None
    assert str(failure.error).startswith(str(broken.resolve()))
    assert "nothing from this file was stored" in str(failure.error)
    assert "not a valid id!" in str(failure.error)
    assert store.counts_by_type() == before
