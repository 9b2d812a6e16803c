"""Conformance: the embedded store and a real HAPI FHIR server give the same answers.

Both servers are loaded with the committed Synthea fixtures through the same
loader (``tests/support/conformance_servers.py``), then the same searches (values taken
from the bundles themselves) run against each. Ids must be identical, so a citation names
the same resource on every server and a search means the same thing on both; sorted pages
and counts agree too.  The read-only server's features are in
``test_conformance_hapi_features.py``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from fhir_client import FhirClient
from fhir_client.embedded import embedded_client
from tests.support.conformance_queries import (
    Search,
    directory_searches,
    patient_resources,
    patient_searches,
)
from tests.support.conformance_servers import PAGE, LoadedServers, fixture_patients, servers

pytestmark = pytest.mark.hapi

__all__ = ["servers"]  # a fixture used here by name


def _all_searches(fixtures_dir: Path) -> list[Search]:
    searches: list[Search] = []
    patients = []
    for path in fixture_patients(fixtures_dir):
        patient_id, resources = patient_resources(path)
        patients.append(next(r for r in resources if r["resourceType"] == "Patient"))
        searches.extend(patient_searches(patient_id, resources))
    practitioner_file = next(fixtures_dir.glob("practitionerInformation*.json"))
    practitioners = [
        e["resource"]
        for e in json.loads(practitioner_file.read_text())["entry"]
        if e["resource"]["resourceType"] == "Practitioner"
    ]
    searches.extend(directory_searches(patients, practitioners))
    return searches


async def _ids(client: FhirClient, search: Search) -> list[str]:
    params: dict[str, list[str]] = {}
    for name, value in (*search.params, *PAGE.items()):
        params.setdefault(name, []).append(value)
    resources = await client.search(search.resource_type, params, max_pages=50)
    return [r["id"] for r in resources]


async def _compare_all(
    servers: LoadedServers, searches: list[Search]
) -> list[tuple[Search, list[str], list[str]]]:
    results = []
    async with embedded_client(servers.store) as embedded, FhirClient(servers.hapi_url) as hapi:
        for search in searches:
            results.append((search, await _ids(embedded, search), await _ids(hapi, search)))
    return results


def test_same_ids_from_embedded_store_and_hapi(servers: LoadedServers, fixtures_dir: Path) -> None:
    searches = _all_searches(fixtures_dir)
    results = asyncio.run(_compare_all(servers, searches))

    mismatches = [
        f"{search.label()}: embedded-only {sorted(set(e) - set(h))[:3]}, "
        f"hapi-only {sorted(set(h) - set(e))[:3]} ({len(e)} vs {len(h)})"
        for search, e, h in results
        if sorted(e) != sorted(h)
    ]
    assert not mismatches, "\n".join(mismatches)
    for search, embedded_ids, _ in results:
        assert len(embedded_ids) == len(set(embedded_ids)), f"duplicates from {search.label()}"

    matched = [search for search, ids, _ in results if ids]
    distinct = {search.signature for search in matched}
    assert len(distinct) >= 20, (
        f"only {len(distinct)} distinct non-empty searches: {sorted(distinct)}"
    )
    assert len(matched) >= 0.8 * len(results), "too many searches matched nothing to prove much"


async def _sorted_dates(client: FhirClient, patient_id: str, order: str) -> list[str]:
    bundle = await client.search_bundle(
        "Observation", {"patient": patient_id, "_sort": order, "_count": "25"}
    )
    return [e["resource"]["effectiveDateTime"] for e in bundle.get("entry", [])]


def test_sorted_pages_agree_on_dates(servers: LoadedServers, fixtures_dir: Path) -> None:
    """``_sort=date`` and ``-date`` put the same dates first on both servers (ties may differ)."""

    async def run() -> None:
        async with embedded_client(servers.store) as embedded, FhirClient(servers.hapi_url) as hapi:
            for path in fixture_patients(fixtures_dir)[:4]:
                patient_id, _ = patient_resources(path)
                for order in ("date", "-date"):
                    ours = await _sorted_dates(embedded, patient_id, order)
                    theirs = await _sorted_dates(hapi, patient_id, order)
                    assert ours and ours == theirs, (patient_id, order)

    asyncio.run(run())


def test_counts_agree(servers: LoadedServers, fixtures_dir: Path) -> None:
    """``_summary=count`` totals match between servers and the bundle JSON."""

    async def run() -> None:
        async with embedded_client(servers.store) as embedded, FhirClient(servers.hapi_url) as hapi:
            for path in fixture_patients(fixtures_dir)[:4]:
                patient_id, resources = patient_resources(path)
                for resource_type in ("Observation", "Encounter", "Claim"):
                    expected = sum(r["resourceType"] == resource_type for r in resources)
                    params = {"patient": patient_id}
                    assert await embedded.count(resource_type, params) == expected
                    assert await hapi.count(resource_type, params) == expected

    asyncio.run(run())
