"""Genuine Synthea output from other projects loads, ids kept, references resolved.

Expectations are computed here straight from the bundle JSON, never from
the loader's own report.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.loading import BundleKind, LoadReport, load_paths
from tests.support.shared_data import synthea_external

DIRECTORY_TYPES = {"Practitioner", "PractitionerRole", "Organization", "Location"}


def _bundle(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_bytes())
    return document


def _patient_files(directory: Path) -> list[Path]:
    return [
        path
        for path in sorted(directory.glob("*.json"))
        if not path.name.startswith(("hospitalInformation", "practitionerInformation"))
    ]


def _conditional_reference_count(node: Any) -> int:
    if isinstance(node, dict):
        own = isinstance(node.get("reference"), str) and "?identifier=" in node["reference"]
        return int(own) + sum(_conditional_reference_count(v) for v in node.values())
    if isinstance(node, list):
        return sum(_conditional_reference_count(item) for item in node)
    return 0


def _load(store: EmbeddedStore, paths: list[Path]) -> LoadReport:
    async def run() -> LoadReport:
        async with embedded_client(store, timeout=600.0) as client:
            return await load_paths(client, paths)

    return asyncio.run(run())


@pytest.fixture(scope="module")
def hiv_directory() -> Path:
    return synthea_external("fhir-data-pipes-hiv")


@pytest.fixture(scope="module")
def hiv_store(hiv_directory: Path) -> Iterator[tuple[EmbeddedStore, LoadReport]]:
    store = EmbeddedStore(":memory:")
    # Patients named before the practitioner/hospital bundles: the loader reorders.
    report = _load(store, [*_patient_files(hiv_directory), hiv_directory])
    yield store, report
    store.close()


def test_every_file_loads_reference_data_first(
    hiv_store: tuple[EmbeddedStore, LoadReport], hiv_directory: Path
) -> None:
    _, report = hiv_store
    assert report.failures == []
    assert [r.kind for r in report.files[:2]] == [BundleKind.REFERENCE_DATA] * 2
    assert {r.path.name for r in report.files} == {p.name for p in hiv_directory.glob("*.json")}
    assert [p.name for p in report.skipped_files] == ["LICENSE"]
    assert report.unresolved_references == 0


def test_every_resource_is_stored_under_its_synthea_id(
    hiv_store: tuple[EmbeddedStore, LoadReport], hiv_directory: Path
) -> None:
    store, _ = hiv_store
    expected: Counter[str] = Counter()
    for path in sorted(hiv_directory.glob("*.json")):
        for entry in _bundle(path)["entry"]:
            resource = entry["resource"]
            expected[resource["resourceType"]] += 1
            assert store.read(resource["resourceType"], resource["id"]) is not None, path.name
    assert store.counts_by_type() == dict(expected)


def test_counts_by_type_per_patient_match_the_bundle(
    hiv_store: tuple[EmbeddedStore, LoadReport], hiv_directory: Path
) -> None:
    store, _ = hiv_store

    async def record_counts(patient_id: str) -> Counter[str]:
        async with embedded_client(store) as client:
            record = await client.everything(patient_id, max_pages=1000)
        return Counter(
            r["resourceType"] for r in record if r["resourceType"] not in DIRECTORY_TYPES
        )

    for path in _patient_files(hiv_directory):
        resources = [entry["resource"] for entry in _bundle(path)["entry"]]
        patient_id = next(r["id"] for r in resources if r["resourceType"] == "Patient")
        expected = Counter(r["resourceType"] for r in resources)
        assert asyncio.run(record_counts(patient_id)) == expected, path.name


def test_conditional_references_point_at_the_practitioner_with_that_npi(
    hiv_store: tuple[EmbeddedStore, LoadReport], hiv_directory: Path
) -> None:
    store, _ = hiv_store
    source = _bundle(_patient_files(hiv_directory)[0])
    original = next(
        e["resource"] for e in source["entry"] if e["resource"]["resourceType"] == "Encounter"
    )
    npi_reference = original["participant"][0]["individual"]["reference"]
    system, _, npi = npi_reference.split("=", 1)[1].partition("|")

    stored = store.read("Encounter", original["id"])
    assert stored is not None
    practitioner_reference = stored["participant"][0]["individual"]["reference"]
    practitioner_type, _, practitioner_id = practitioner_reference.partition("/")
    assert practitioner_type == "Practitioner"
    practitioner = store.read("Practitioner", practitioner_id)
    assert practitioner is not None
    assert {"system": system, "value": npi} in practitioner["identifier"]
    assert stored["subject"]["reference"] == f"Patient/{source['entry'][0]['resource']['id']}"


def test_patients_without_their_practitioner_bundles_load_with_unresolved_counted() -> None:
    directory = synthea_external("spezi-mock-patients")
    expected_unresolved = {
        path.name: _conditional_reference_count(_bundle(path)) for path in _patient_files(directory)
    }
    store = EmbeddedStore(":memory:")
    try:
        report = _load(store, [directory])

        assert report.failures == []
        assert len(report.skipped_files) == len(list(directory.glob("*.license")))
        assert {r.path.name: r.unresolved_references for r in report.files} == expected_unresolved
        for path in _patient_files(directory):
            for entry in _bundle(path)["entry"]:
                resource = entry["resource"]
                assert store.read(resource["resourceType"], resource["id"]) is not None
        encounter_id = next(
            e["resource"]["id"]
            for e in _bundle(_patient_files(directory)[0])["entry"]
            if e["resource"]["resourceType"] == "Encounter"
        )
        stored = store.read("Encounter", encounter_id)
        assert stored is not None
        individual = stored["participant"][0]["individual"]
        assert "reference" not in individual
        assert individual["type"] == "Practitioner"
        assert individual["identifier"]["system"] == "http://hl7.org/fhir/sid/us-npi"
    finally:
        store.close()
