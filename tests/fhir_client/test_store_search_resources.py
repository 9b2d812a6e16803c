"""Search semantics of the embedded facade on genuine Synthea data, beyond Observations:
Conditions, Encounters, Immunizations, ``$everything``, identifiers and names, reads,
refused requests, the capability statement, and counts by type.

Every expected id set is computed here straight from the bundle JSON, with deliberately
simple code (string slices of the written dates, plain loops over codings), never through
the store; the store and its helpers are in ``tests/support/hiv_search.py``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_client.embedded import EmbeddedStore
from tests.support.hiv_search import all_ids, busiest, codings, fhir, hiv, of_type, store
from tests.support.shared_data import synthea_external
from tests.support.synthea_sets import Resource, SyntheaSet, load_synthea_dir

LOINC = "http://loinc.org"

__all__ = ["busiest", "fhir", "hiv", "store"]  # fixtures used here by name


async def test_condition_clinical_status_and_onset(
    fhir: httpx.AsyncClient, hiv: SyntheaSet
) -> None:
    for pid, resources in hiv.patients.items():
        conditions = of_type(resources, "Condition")
        for status in ("active", "resolved"):
            expected = {
                c["id"]
                for c in conditions
                if status in [x for _, x in codings(c["clinicalStatus"])]
            }
            got = await all_ids(fhir, "Condition", {"patient": pid, "clinical-status": status})
            assert set(got) == expected
        for condition in conditions:
            day = condition["onsetDateTime"][:10]
            got = await all_ids(fhir, "Condition", {"patient": pid, "onset-date": day})
            assert condition["id"] in got


async def test_encounter_by_date_range(
    fhir: httpx.AsyncClient, busiest: tuple[str, list[Resource]]
) -> None:
    pid, resources = busiest
    encounters = of_type(resources, "Encounter")
    starts = sorted(e["period"]["start"][:10] for e in encounters)
    low, high = starts[len(starts) // 4], starts[(3 * len(starts)) // 4]
    expected = {
        e["id"]
        for e in encounters
        if e["period"]["end"][:10] >= low and e["period"]["start"][:10] < high
    }
    assert 0 < len(expected) < len(encounters)
    response = await fhir.get(
        "Encounter",
        params=[("patient", pid), ("date", f"ge{low}"), ("date", f"lt{high}"), ("_count", "1000")],
    )
    assert {e["resource"]["id"] for e in response.json().get("entry", [])} == expected


async def test_immunization_by_date_and_vaccine_code(
    fhir: httpx.AsyncClient, busiest: tuple[str, list[Resource]]
) -> None:
    pid, resources = busiest
    immunizations = of_type(resources, "Immunization")
    sample = immunizations[len(immunizations) // 2]
    day = sample["occurrenceDateTime"][:10]
    expected_day = {i["id"] for i in immunizations if i["occurrenceDateTime"][:10] == day}
    assert set(await all_ids(fhir, "Immunization", {"patient": pid, "date": day})) == expected_day
    cvx = sample["vaccineCode"]["coding"][0]
    expected_code = {
        i["id"] for i in immunizations if (cvx["system"], cvx["code"]) in codings(i["vaccineCode"])
    }
    got = await all_ids(
        fhir, "Immunization", {"patient": pid, "vaccine-code": f"{cvx['system']}|{cvx['code']}"}
    )
    assert set(got) == expected_code


async def test_everything_covers_compartment_and_references(
    fhir: httpx.AsyncClient, hiv: SyntheaSet, busiest: tuple[str, list[Resource]]
) -> None:
    pid, resources = busiest
    ids: list[str] = []
    response = await fhir.get(f"Patient/{pid}/$everything", params={"_count": "300"})
    first = response.json()
    assert first["entry"][0]["resource"]["id"] == pid
    while True:
        bundle = response.json()
        ids.extend(
            f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]
        )
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not nxt:
            break
        response = await fhir.get(nxt[0])
    own = {f"{r['resourceType']}/{r['id']}" for r in resources}
    referenced = _shared_targets(resources, hiv)
    assert len(ids) == len(set(ids))
    assert set(ids) == own | referenced
    assert first["total"] == len(own | referenced)
    other = next(p for p in hiv.patients if p != pid)
    assert f"Patient/{other}" not in ids


def _shared_targets(resources: list[Resource], hiv: SyntheaSet) -> set[str]:
    """Practitioner/Organization/Location/... keys the patient's resources point at."""
    shared = {f"{r['resourceType']}/{r['id']}" for r in hiv.shared}
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "reference" and value in shared:
                    found.add(value)
                elif key != "contained":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(resources)
    return found


async def test_everything_unknown_patient_is_404(fhir: httpx.AsyncClient) -> None:
    response = await fhir.get("Patient/no-such-patient/$everything")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_practitioner_by_identifier(fhir: httpx.AsyncClient, hiv: SyntheaSet) -> None:
    practitioner = next(r for r in hiv.shared if r["resourceType"] == "Practitioner")
    ident = practitioner["identifier"][0]
    expected = {
        r["id"]
        for r in hiv.shared
        if r["resourceType"] == "Practitioner"
        and any(
            i.get("system") == ident["system"] and i.get("value") == ident["value"]
            for i in r.get("identifier", [])
        )
    }
    got = await all_ids(fhir, "Practitioner", {"identifier": f"{ident['system']}|{ident['value']}"})
    assert set(got) == expected and practitioner["id"] in got


async def test_patient_name_search_is_prefix_and_case_insensitive(
    fhir: httpx.AsyncClient, hiv: SyntheaSet
) -> None:
    patients = [next(iter(of_type(rs, "Patient"))) for rs in hiv.patients.values()]
    family = patients[0]["name"][0]["family"]
    prefix = family[:3].upper()
    expected = {
        p["id"]
        for p in patients
        if any(n.get("family", "").lower().startswith(prefix.lower()) for n in p["name"])
    }
    assert set(await all_ids(fhir, "Patient", {"family": prefix})) == expected
    given = patients[0]["name"][0]["given"][0]
    got = await all_ids(fhir, "Patient", {"name": given.lower()})
    assert patients[0]["id"] in got
    gender = patients[0]["gender"]
    assert set(await all_ids(fhir, "Patient", {"gender": gender})) == {
        p["id"] for p in patients if p["gender"] == gender
    }


async def test_read_and_not_found(fhir: httpx.AsyncClient, hiv: SyntheaSet) -> None:
    pid = next(iter(hiv.patients))
    response = await fhir.get(f"Patient/{pid}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["id"] == pid and body["meta"]["versionId"] == "1"
    missing = await fhir.get("Patient/not-there")
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("Observation", {"foo": "bar"}, "foo"),
        ("Observation", {"code:text": "weight"}, "code:text"),
        ("Observation", {"date": "2020-13-01"}, "date"),
        ("Observation", {"date": "ap2020"}, "ap"),
        ("Observation", {"_sort": "value"}, "value"),
        ("Observation", {"subject.name": "x"}, "subject.name"),
        ("Immunization", {"code": "08"}, "code"),
        ("Observation", {"_count": "many"}, "_count"),
    ],
)
async def test_unsupported_requests_are_400_naming_the_problem(
    fhir: httpx.AsyncClient, path: str, params: dict[str, str], named: str
) -> None:
    response = await fhir.get(path, params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert named in body["issue"][0]["diagnostics"]


async def test_unknown_resource_type_is_an_error(fhir: httpx.AsyncClient) -> None:
    response = await fhir.get("Spaceship", params={"_id": "1"})
    assert response.status_code == 404
    assert "Spaceship" in response.json()["issue"][0]["diagnostics"]


async def test_metadata_lists_search_params(fhir: httpx.AsyncClient) -> None:
    response = await fhir.get("metadata")
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    observation = {p["name"]: p["type"] for p in resources["Observation"]["searchParam"]}
    assert observation["code"] == "token" and observation["date"] == "date"
    assert observation["patient"] == "reference"
    assert {p["name"] for p in resources["Immunization"]["searchParam"]} >= {"vaccine-code", "date"}
    assert resources["Patient"]["operation"][0]["name"] == "everything"


def test_counts_by_type_match_the_bundles(store: EmbeddedStore, hiv: SyntheaSet) -> None:
    expected = Counter(r["resourceType"] for r in hiv.all_resources())
    assert store.counts_by_type() == dict(expected)
    pid, resources = next(iter(hiv.patients.items()))
    assert store.counts_by_type(pid) == dict(Counter(r["resourceType"] for r in resources))
    assert not store.is_empty()


def test_spezi_patients_load_without_practitioner_bundles(tmp_path: Path) -> None:
    data = load_synthea_dir(synthea_external("spezi-mock-patients"))
    store = EmbeddedStore(tmp_path / "spezi.db")
    try:
        for resources in data.patients.values():
            store.put_resources(resources)
        expected = Counter(r["resourceType"] for r in data.all_resources())
        assert store.counts_by_type() == dict(expected)
    finally:
        store.close()
