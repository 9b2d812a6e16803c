"""Conformance: a third-party FHIR client (fhirpy) against the ``/fhir`` of ``ehr-agent serve``.

The server is the real API app under uvicorn on 127.0.0.1 (tests/support/api_server.py) over an
embedded store filled from the committed Synthea fixtures; fhirpy talks to it over
HTTP as it would to any FHIR server. Expected answers come from the bundle JSON
(tests/support/conformance_queries.py), never from the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome, ResourceNotFound

from tests.support.api_server import running_server, store_copy
from tests.support.conformance_queries import patient_resources

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
    assert [i["code"] for i in rest["interaction"]] == ["history-system"]
    codes = {i["code"] for r in rest["resource"] for i in r["interaction"]}
    assert codes == {"read", "vread", "search-type", "history-instance", "history-type"}


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


#: R4 Observation elements marked isSummary (http://hl7.org/fhir/R4/observation.html,
#: the Σ column), written out here so the test does not share the server's source.
_OBSERVATION_SUMMARY = {"id", "meta", "implicitRules", "identifier", "basedOn", "partOf"}
_OBSERVATION_SUMMARY |= {"status", "code", "subject", "focus", "encounter", "issued"}
_OBSERVATION_SUMMARY |= {"performer", "hasMember", "derivedFrom", "component"}
_SUMMARY_CHOICES = ("effective", "value")


def _r4_observation_summary(observation: Resource) -> Resource:
    kept = {
        k: v
        for k, v in observation.items()
        if k in _OBSERVATION_SUMMARY or k.startswith(_SUMMARY_CHOICES) or k == "resourceType"
    }
    if "component" in kept:  # Observation.component: code and value[x] are Σ, not the rest
        kept["component"] = [
            {k: v for k, v in c.items() if k == "code" or k.startswith("value")}
            for c in kept["component"]
        ]
    return kept


def _without_tags(resource: Resource) -> Resource:
    meta = {k: v for k, v in resource.get("meta", {}).items() if k != "tag"}
    return {**resource, "meta": meta}


async def test_summary_views(fhir_base: str, record: tuple[str, list[Resource]]) -> None:
    pid, resources = record
    client = AsyncFHIRClient(fhir_base)
    stored = {
        o["id"]: o
        for o in await client.resources("Observation").search(patient=pid).limit(1000).fetch_all()
    }
    search = client.resources("Observation").search(patient=pid).limit(1000)
    summaries = await search.search(_summary="true").fetch_all()
    assert len(summaries) == len(_of(resources, "Observation"))
    for summary in summaries:
        assert "SUBSETTED" in {t["code"] for t in summary["meta"]["tag"]}
        whole = {**stored[summary["id"]], "meta": stored[summary["id"]]["meta"]}
        assert _without_tags(summary) == _r4_observation_summary(whole)
    with_components = [s for s in summaries if "component" in s]
    assert with_components and all(
        "referenceRange" not in c for s in with_components for c in s["component"]
    )

    texts = await search.search(_summary="text").fetch_all()
    for text in texts:  # text, id, meta and the top-level mandatory elements (status, code)
        assert set(text) == {"resourceType", "id", "meta", "status", "code"} | (
            {"text"} & set(stored[text["id"]])
        )
    data = await search.search(_summary="data").fetch_all()
    assert {d["id"]: _without_tags(d) for d in data} == {
        i: {k: v for k, v in o.items() if k != "text"} for i, o in stored.items()
    }

    one = summaries[0]["id"]
    read = await client.execute(f"Observation/{one}", method="get", params={"_summary": "true"})
    assert _without_tags(read) == _without_tags(next(s for s in summaries if s["id"] == one))
    with pytest.raises(OperationOutcome, match="_summary must be"):
        await search.search(_summary="false-ish").fetch()
    with pytest.raises(OperationOutcome, match="two different subsets"):
        await search.search(_summary="true").elements("code").fetch()


async def test_nested_elements_get_an_explicit_answer(fhir_base: str) -> None:
    """R4 ``_elements`` names top-level elements only: a nested path is a 400 that says so."""
    client = AsyncFHIRClient(fhir_base)
    nested = client.resources("Observation").elements("code", "valueQuantity.value")
    with pytest.raises(OperationOutcome, match="top-level"):
        await nested.fetch()
    excluded = client.resources("Observation").elements("text", exclude=True)
    with pytest.raises(OperationOutcome, match="_summary=data"):
        await excluded.fetch()


async def _history_pages(
    client: AsyncFHIRClient, fhir_base: str, path: str, params: dict[str, str]
) -> tuple[list[Resource], list[Resource]]:
    """Every page of a ``_history``, following ``next`` links: (bundles, entries)."""
    bundles: list[Resource] = []
    while True:
        bundle = await client.execute(path, method="get", params=params)
        assert bundle["type"] == "history"
        bundles.append(bundle)
        following = next((li["url"] for li in bundle["link"] if li["relation"] == "next"), None)
        if following is None:
            return bundles, [e for b in bundles for e in b.get("entry", [])]
        url = httpx.URL(following)
        path = url.path.removeprefix(httpx.URL(fhir_base).path).lstrip("/")
        params = dict(url.params)


def _observation_keys(fixtures_dir: Path) -> set[str]:
    """``Observation/id`` of every Observation in the fixture bundles."""
    return {
        f"Observation/{e['resource']['id']}"
        for path in fixtures_dir.glob("*.json")
        for e in json.loads(path.read_text())["entry"]
        if e["resource"]["resourceType"] == "Observation"
    }


async def test_type_and_system_history(fhir_base: str, fixtures_dir: Path) -> None:
    client = AsyncFHIRClient(fhir_base)
    expected = _observation_keys(fixtures_dir)
    bundles, entries = await _history_pages(
        client, fhir_base, "Observation/_history", {"_count": "1000"}
    )
    assert len(bundles) > 1 and bundles[0]["total"] == len(expected)
    assert (
        [f"Observation/{e['resource']['id']}" for e in entries]
        and {f"Observation/{e['resource']['id']}" for e in entries} == expected
        and len(entries) == len(expected)
    )
    stamps = [e["response"]["lastModified"] for e in entries]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    assert all(e["request"]["url"].startswith("Observation/") for e in entries)

    since = stamps[len(stamps) // 2]
    _, newer = await _history_pages(
        client, fhir_base, "Observation/_history", {"_since": since, "_count": "1000"}
    )
    assert {e["fullUrl"] for e in newer} == {
        e["fullUrl"] for e in entries if e["response"]["lastModified"] >= since
    }

    system = await client.execute("_history", method="get", params={"_count": "5"})
    assert system["type"] == "history" and len(system["entry"]) == 5
    assert system["total"] > len(expected)
    assert system["entry"][0]["response"]["lastModified"] >= stamps[0]
    with pytest.raises(OperationOutcome, match="_at"):
        await client.execute("_history", method="get", params={"_at": "2024"})
    with pytest.raises(OperationOutcome, match="_since"):
        await client.execute("Observation/_history", method="get", params={"_since": "yesterday"})
