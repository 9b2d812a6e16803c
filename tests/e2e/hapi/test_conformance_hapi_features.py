"""Conformance of the read-only server's features, with a real HAPI FHIR server as the
reference: includes and revincludes, ``_elements`` and counts, vread, history and ETags,
summary views, type and system history, and what HAPI extends beyond R4.

Both servers hold the committed Synthea fixtures (``tests/support/conformance_servers.py``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_client.embedded import EMBEDDED_BASE_URL, embedded_asgi_app
from fhir_client.limits import MAX_INCLUDED_PER_PAGE
from tests.support.conformance_queries import Search, patient_resources
from tests.support.conformance_servers import LoadedServers, fixture_patients, servers

pytestmark = pytest.mark.hapi

__all__ = ["servers"]  # a fixture used here by name


def _keys(bundle: dict[str, Any], mode: str) -> set[str]:
    return {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if e.get("search", {}).get("mode") == mode
    }


@asynccontextmanager
async def _both_http(servers: LoadedServers) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """Raw HTTP to the embedded facade (in-process) and to HAPI, same paths on both."""
    transport = httpx.ASGITransport(app=embedded_asgi_app(servers.store))
    async with (
        httpx.AsyncClient(transport=transport, base_url=EMBEDDED_BASE_URL) as embedded,
        httpx.AsyncClient(base_url=servers.hapi_url, timeout=120) as hapi,
    ):
        yield embedded, hapi


def _include_searches(patient_id: str, resources: list[dict[str, Any]]) -> list[Search]:
    encounters = ",".join([r["id"] for r in resources if r["resourceType"] == "Encounter"][:5])
    page = ("_count", "1000")  # one page on both servers, so both include for the same matches
    return [
        Search(
            "Observation", (("patient", patient_id), ("_include", "Observation:encounter"), page)
        ),
        Search(
            "Encounter",
            (
                ("patient", patient_id),
                ("_include", "Encounter:service-provider:Organization"),
                ("_include", "Encounter:participant"),
                page,
            ),
        ),
        Search(
            "MedicationRequest",
            (("patient", patient_id), ("_include", "MedicationRequest:medication"), page),
        ),
        Search("Patient", (("_id", patient_id), ("_revinclude", "Condition:subject"))),
        Search(
            "Patient",
            (("_id", patient_id), ("_revinclude", "Encounter:patient"), ("_elements", "name")),
        ),
        Search(
            "MedicationRequest",
            (
                ("patient", patient_id),
                ("_include", "MedicationRequest:encounter"),
                ("_include:iterate", "Encounter:service-provider"),
                page,
            ),
        ),
        Search(
            "Patient",
            (
                ("_id", patient_id),
                ("_revinclude", "Encounter:patient"),
                ("_revinclude:iterate", "Condition:encounter"),
            ),
        ),
        Search("Encounter", (("_id", encounters), ("_include", "*"))),
        Search("Encounter", (("_id", encounters), ("_revinclude", "*"))),
    ]


def test_include_and_revinclude_agree_with_hapi(servers: LoadedServers, fixtures_dir: Path) -> None:
    async def run() -> list[str]:
        problems: list[str] = []
        included = 0
        async with _both_http(servers) as (embedded, hapi):
            for path in fixture_patients(fixtures_dir)[:4]:
                patient_id, resources = patient_resources(path)
                for search in _include_searches(patient_id, resources):
                    ours = await embedded.get(f"/{search.resource_type}", params=search.params)
                    theirs = await hapi.get(f"/{search.resource_type}", params=search.params)
                    assert ours.status_code == theirs.status_code == 200, search.label()
                    for mode in ("match", "include"):
                        if _keys(ours.json(), mode) != _keys(theirs.json(), mode):
                            problems.append(f"{search.label()}: {mode} entries differ")
                    included += len(_keys(ours.json(), "include"))
        assert included > 100, "the include searches found too little to prove anything"
        return problems

    problems = asyncio.run(run())
    assert not problems, "\n".join(problems)


def test_revinclude_star_holds_all_hapi_has(servers: LoadedServers, fixtures_dir: Path) -> None:
    """``Patient?_id=X&_revinclude=*``: HAPI 8.8 stops at 1,000 reference rows *before*
    removing duplicates (a resource pointing at the patient through ``subject`` and
    ``patient`` counts twice) and says nothing, so for a large record it returns a
    partial set. Ours must hold everything HAPI returns, and be complete (or cut at
    MAX_INCLUDED_PER_PAGE with a warning) against the bundle JSON."""

    async def run() -> None:
        async with _both_http(servers) as (embedded, hapi):
            for path in fixture_patients(fixtures_dir)[:4]:
                patient_id, resources = patient_resources(path)
                params = {"_id": patient_id, "_revinclude": "*"}
                ours = (await embedded.get("/Patient", params=params)).json()
                theirs = (await hapi.get("/Patient", params=params)).json()
                assert _keys(theirs, "include") <= _keys(ours, "include")
                referring = {
                    f"{r['resourceType']}/{r['id']}"
                    for r in resources
                    if r["resourceType"] != "Patient" and patient_id in json.dumps(r)
                }
                warned = any(e["search"]["mode"] == "outcome" for e in ours["entry"])
                if len(referring) <= MAX_INCLUDED_PER_PAGE:
                    assert _keys(ours, "include") == referring and not warned
                else:
                    assert len(_keys(ours, "include")) == MAX_INCLUDED_PER_PAGE and warned

    asyncio.run(run())


def test_elements_and_counts_agree_with_hapi(servers: LoadedServers, fixtures_dir: Path) -> None:
    async def run() -> None:
        async with _both_http(servers) as (embedded, hapi):
            for path in fixture_patients(fixtures_dir)[:4]:
                patient_id, _ = patient_resources(path)
                for resource_type, elements in (
                    ("Observation", "code,value"),
                    ("Condition", "code,onset,clinicalStatus"),
                    ("Patient", "name,birthDate"),
                ):
                    key = "_id" if resource_type == "Patient" else "patient"
                    params = {key: patient_id, "_elements": elements, "_count": "1000"}
                    shapes = []
                    for server in (embedded, hapi):
                        bundle = (await server.get(f"/{resource_type}", params=params)).json()
                        entries = [e["resource"] for e in bundle["entry"]]
                        assert all(
                            "SUBSETTED" in {t["code"] for t in r["meta"]["tag"]} for r in entries
                        )
                        shapes.append({r["id"]: set(r) for r in entries})
                    assert shapes[0] == shapes[1], (resource_type, elements)
                    for count in ({"_summary": "count"}, {"_count": "0", "_totalMethod": "count"}):
                        totals = [
                            (
                                await s.get(f"/{resource_type}", params={key: patient_id, **count})
                            ).json()["total"]
                            for s in (embedded, hapi)
                        ]
                        assert totals[0] == totals[1] == len(shapes[0])

    asyncio.run(run())


def test_vread_history_and_etag_behave_as_hapi(servers: LoadedServers, fixtures_dir: Path) -> None:
    """Version numbers differ (each server counts its own writes); what each does with
    its current version must not."""

    async def run() -> None:
        async with _both_http(servers) as (embedded, hapi):
            patient_id, resources = patient_resources(fixture_patients(fixtures_dir)[0])
            condition = next(r for r in resources if r["resourceType"] == "Condition")
            for path in (f"Patient/{patient_id}", f"Condition/{condition['id']}"):
                for server in (embedded, hapi):
                    read = await server.get(f"/{path}")
                    version = read.json()["meta"]["versionId"]
                    assert read.headers["etag"] == f'W/"{version}"'
                    assert "last-modified" in read.headers
                    vread = await server.get(f"/{path}/_history/{version}")
                    assert vread.status_code == 200 and vread.json()["id"] == read.json()["id"]
                    later = await server.get(f"/{path}/_history/{int(version) + 1}")
                    assert later.status_code == 404
                    history = (await server.get(f"/{path}/_history")).json()
                    assert history["type"] == "history"
                    assert history["entry"][0]["resource"]["meta"]["versionId"] == version
                    conditional = await server.get(
                        f"/{path}", headers={"If-None-Match": f'W/"{version}"'}
                    )
                    assert conditional.status_code == 304
                    base = await server.get("")
                    assert base.status_code == 400

    asyncio.run(run())


def _without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource without ``meta`` (versions, sources and tag wording differ by server),
    also in its contained resources."""
    kept = {k: v for k, v in resource.items() if k != "meta"}
    if isinstance(kept.get("contained"), list):
        kept["contained"] = [_without_meta(c) for c in kept["contained"]]
    return kept


def test_summary_views_agree_with_hapi(servers: LoadedServers, fixtures_dir: Path) -> None:
    """``_summary=true|text|data`` gives HAPI's resources element for element (nested too)."""

    async def run() -> None:
        async with _both_http(servers) as (embedded, hapi):
            for path in fixture_patients(fixtures_dir)[:2]:
                patient_id, _ = patient_resources(path)
                for resource_type in (
                    "Patient",
                    "Observation",
                    "Encounter",
                    "MedicationRequest",
                    "DiagnosticReport",
                    "ExplanationOfBenefit",
                    "Immunization",
                ):
                    key = "_id" if resource_type == "Patient" else "patient"
                    for view in ("true", "text", "data"):
                        params = {key: patient_id, "_summary": view, "_count": "1000"}
                        found = []
                        for server in (embedded, hapi):
                            bundle = (await server.get(f"/{resource_type}", params=params)).json()
                            entries = [e["resource"] for e in bundle.get("entry", [])]
                            assert all(
                                "SUBSETTED" in {t["code"] for t in r["meta"]["tag"]}
                                for r in entries
                            )
                            found.append({r["id"]: _without_meta(r) for r in entries})
                        assert found[0] == found[1], (resource_type, view)
                        assert found[0], (resource_type, view)
            # Both refuse to pick between two subsets.
            both = {"_summary": "true", "_elements": "code"}
            for server in (embedded, hapi):
                assert (await server.get("/Observation", params=both)).status_code == 400

    asyncio.run(run())


def test_type_and_system_history_agree_with_hapi(
    servers: LoadedServers, fixtures_dir: Path
) -> None:
    """Type and system ``_history`` hold the same resources on both servers (HAPI may hold
    more than one version of a resource; the store keeps one), newest first."""

    async def ids(server: httpx.AsyncClient, path: str, params: dict[str, str]) -> list[str]:
        found: list[str] = []
        url: str | None = path
        while url is not None:
            bundle = (await server.get(url, params=params)).json()
            assert bundle["type"] == "history"
            found += [
                f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]
            ]
            url = next((li["url"] for li in bundle["link"] if li["relation"] == "next"), None)
            params = {}
        return found

    async def run() -> None:
        async with _both_http(servers) as (embedded, hapi):
            for path in ("/Patient/_history", "/Condition/_history"):
                ours = await ids(embedded, path, {"_count": "1000"})
                theirs = await ids(hapi, path, {"_count": "1000"})
                assert len(ours) == len(set(ours)) and set(ours) == set(theirs), path
            system = [
                (await server.get("/_history", params={"_count": "1"})).json()["total"]
                for server in (embedded, hapi)
            ]
            assert system[0] == servers.resources_loaded <= system[1]
            future = {"_since": "2999-01-01T00:00:00Z"}
            for server in (embedded, hapi):
                empty = (await server.get("/Observation/_history", params=future)).json()
                assert empty["type"] == "history" and not empty.get("entry")

    asyncio.run(run())


def test_nested_elements_are_refused_where_hapi_extends_r4(servers: LoadedServers) -> None:
    """R4 ``_elements`` names top-level elements; HAPI also trims to nested paths (its own
    extension). The embedded store says so with a 400 rather than guess."""

    async def run() -> None:
        nested = {"_elements": "code,valueQuantity.value", "_count": "1"}
        async with _both_http(servers) as (embedded, hapi):
            ours = await embedded.get("/Observation", params=nested)
            assert ours.status_code == 400
            assert "top-level" in ours.json()["issue"][0]["diagnostics"]
            assert (await hapi.get("/Observation", params=nested)).status_code == 200

    asyncio.run(run())
