"""Conformance: a third-party FHIR client (fhirpy) against the ``/fhir`` of ``ehr-agent serve``.

The server is the real API app under uvicorn on 127.0.0.1 (tests/api_server.py) over an
embedded store filled from the committed Synthea fixtures; fhirpy talks to it over
HTTP as it would to any FHIR server. Expected answers come from the bundle JSON
(tests/conformance_queries.py), never from the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_server import running_server, store_copy
from conformance_queries import patient_resources
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome, ResourceNotFound

Resource = dict[str, Any]

# Filling the store from the fixtures and starting uvicorn take ~20 s; the tests are fast.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fhir_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``/fhir`` of a running ``ehr-agent serve`` app over the fixtures."""
    shared = tmp_path_factory.mktemp("shared")
    db = store_copy(tmp_path_factory.mktemp("fhirpy"), shared)
    with running_server(db) as base:
        yield f"{base}/fhir"


@pytest.fixture(scope="module")
def record(fixtures_dir: Path) -> tuple[str, list[Resource]]:
    """The fixture patient with the most Observations, and their resources."""
    records = [
        patient_resources(p) for p in sorted(fixtures_dir.glob("*.json")) if "Info" not in p.name
    ]
    return max(records, key=lambda r: sum(x["resourceType"] == "Observation" for x in r[1]))


def _of(resources: list[Resource], resource_type: str) -> list[Resource]:
    return [r for r in resources if r["resourceType"] == resource_type]


def _keys(bundle: Resource, mode: str) -> set[str]:
    return {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if e.get("search", {}).get("mode") == mode
    }


async def test_read_search_and_paging(fhir_base: str, record: tuple[str, list[Resource]]) -> None:
    pid, resources = record
    client = AsyncFHIRClient(fhir_base)
    patient = await client.reference("Patient", pid).to_resource()
    assert patient["id"] == pid and patient["resourceType"] == "Patient"

    expected = {r["id"] for r in _of(resources, "Observation")}
    found = [o async for o in client.resources("Observation").search(patient=pid).limit(100)]
    assert len(found) == len(expected) > 100  # more than one page
    assert {o["id"] for o in found} == expected

    fetched_all = await client.resources("Observation").search(patient=pid).fetch_all()
    assert {o["id"] for o in fetched_all} == expected


async def test_sort_both_ways(fhir_base: str, record: tuple[str, list[Resource]]) -> None:
    pid, resources = record
    client = AsyncFHIRClient(fhir_base)
    dates = sorted(r["effectiveDateTime"] for r in _of(resources, "Observation"))
    search = client.resources("Observation").search(patient=pid)
    oldest = await search.sort("date").limit(5).fetch()
    newest = await search.sort("-date").limit(5).fetch()
    assert [o["effectiveDateTime"] for o in oldest] == dates[:5]
    assert [o["effectiveDateTime"] for o in newest] == dates[::-1][:5]


async def test_count(fhir_base: str, record: tuple[str, list[Resource]]) -> None:
    pid, resources = record
    client = AsyncFHIRClient(fhir_base)
    for resource_type in ("Observation", "Encounter", "Condition"):
        counted = await client.resources(resource_type).search(patient=pid).count()
        assert counted == len(_of(resources, resource_type))


async def test_include_and_revinclude(fhir_base: str, record: tuple[str, list[Resource]]) -> None:
    pid, resources = record
    client = AsyncFHIRClient(fhir_base)
    page = await (
        client.resources("Encounter")
        .search(patient=pid)
        .include("Encounter", "subject")
        .include("Encounter", "service-provider", "Organization")
        .limit(10)
        .fetch_raw()
    )
    matches = [e["resource"] for e in page["entry"] if e["search"]["mode"] == "match"]
    assert len(matches) == 10
    providers = {m["serviceProvider"]["reference"] for m in matches}
    assert all(p.startswith("Organization/") for p in providers)
    assert _keys(page, "include") == {f"Patient/{pid}"} | providers

    reverse = await (
        client.resources("Patient")
        .search(_id=pid)
        .revinclude("Condition", "subject")
        .revinclude("AllergyIntolerance", "patient")
        .fetch_raw()
    )
    expected = {
        f"{r['resourceType']}/{r['id']}"
        for r in resources
        if r["resourceType"] in ("Condition", "AllergyIntolerance")
    }
    assert _keys(reverse, "match") == {f"Patient/{pid}"}
    assert expected and _keys(reverse, "include") == expected

    chained = await (
        client.resources("MedicationRequest")
        .search(patient=pid)
        .include("MedicationRequest", "encounter")
        .include("Encounter", "service-provider", iterate=True)
        .limit(1000)
        .fetch_raw()
    )
    orders = [e["resource"] for e in chained["entry"] if e["search"]["mode"] == "match"]
    visits = {o["encounter"]["reference"] for o in orders if "encounter" in o}
    included = _keys(chained, "include")
    assert visits and visits <= included
    assert {k.split("/")[0] for k in included - visits} == {"Organization"}

    everything = await (
        client.resources("Condition").search(patient=pid).include("*").limit(3).fetch_raw()
    )
    assert f"Patient/{pid}" in _keys(everything, "include")


async def test_elements(fhir_base: str, record: tuple[str, list[Resource]]) -> None:
    pid, _ = record
    client = AsyncFHIRClient(fhir_base)
    subsets = await (
        client.resources("Condition").search(patient=pid).elements("code", "onset").fetch()
    )
    assert subsets
    for condition in subsets:
        assert set(condition) <= {"resourceType", "id", "meta", "code", "onsetDateTime"}
        assert "code" in condition
        assert "SUBSETTED" in {tag["code"] for tag in condition["meta"]["tag"]}


async def test_vread_history_and_conditional_refresh(
    fhir_base: str, record: tuple[str, list[Resource]]
) -> None:
    pid, _ = record
    client = AsyncFHIRClient(fhir_base)
    patient = await client.resources("Patient").search(_id=pid).get()
    version = patient["meta"]["versionId"]
    same = await client.execute(f"Patient/{pid}/_history/{version}", method="get")
    assert same["id"] == pid and same["meta"]["versionId"] == version
    history = await client.execute(f"Patient/{pid}/_history", method="get")
    assert history["type"] == "history"
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == [version]
    with pytest.raises(ResourceNotFound):
        await client.execute(f"Patient/{pid}/_history/{int(version) + 1}", method="get")

    before = dict(patient)
    await patient.refresh()  # fhirpy sends If-None-Match with the versionId: a 304 here
    assert dict(patient) == before
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{fhir_base}/Patient/{pid}", headers={"If-None-Match": f'W/"{version}"'}
        )
    assert response.status_code == 304


async def test_read_only_mount_refuses_writes_and_says_so(
    fhir_base: str, record: tuple[str, list[Resource]]
) -> None:
    pid, _ = record
    client = AsyncFHIRClient(fhir_base)
    patient = await client.resources("Patient").search(_id=pid).get()
    with pytest.raises(OperationOutcome, match="read-only"):
        await patient.save()
    with pytest.raises(OperationOutcome, match="read-only"):
        await client.execute("", method="post", data={"resourceType": "Bundle", "type": "batch"})
    statement = await client.execute("metadata", method="get")
    rest = statement["rest"][0]
    assert "interaction" not in rest
    codes = {i["code"] for r in rest["resource"] for i in r["interaction"]}
    assert codes == {"read", "vread", "search-type", "history-instance"}


async def test_base_is_answered_not_redirected_and_xml_is_406(fhir_base: str) -> None:
    async with httpx.AsyncClient(follow_redirects=False) as http:
        base = await http.get(fhir_base)
        assert base.status_code == 400  # as HAPI: the base names no resource
        assert "metadata" in base.json()["issue"][0]["diagnostics"]
        for url, headers in (
            (f"{fhir_base}/metadata?_format=xml", {}),
            (f"{fhir_base}/Patient", {"Accept": "application/fhir+xml"}),
        ):
            response = await http.get(url, headers=headers)
            assert response.status_code == 406
            assert response.headers["content-type"].startswith("application/fhir+json")
