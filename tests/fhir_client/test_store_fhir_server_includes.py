"""The embedded facade as a FHIR R4 server: ``_include``, ``_revinclude``, their ``*`` forms
and ``:iterate``, each bounded and saying so.

Runs in-process (httpx over ASGI) against genuine Synthea output from another project
(tests/support/data/synthea-external). Every expected answer is computed from the bundle JSON
(tests/support/synthea_sets.py), never from the store under test; the server and its
helpers are in ``tests/support/hiv_server.py``.
"""

from __future__ import annotations

import httpx

from fhir_client.embedded import EmbeddedStore
from fhir_client.embedded.extract import parse_reference
from fhir_client.limits import MAX_INCLUDED_PER_PAGE
from tests.support.hiv_server import hiv, http, keys, references, smallest, store
from tests.support.synthea_sets import SyntheaSet

__all__ = ["hiv", "http", "store"]  # fixtures used here by name


async def test_include_adds_what_the_page_points_at(
    http: httpx.AsyncClient, hiv: SyntheaSet
) -> None:
    pid, resources = smallest(hiv)
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    bundle = (
        await http.get(
            "/Observation",
            params={"patient": pid, "_count": "1000", "_include": "Observation:encounter"},
        )
    ).json()
    assert keys(bundle, "match") == {f"Observation/{r['id']}" for r in observations}
    expected = {r["encounter"]["reference"] for r in observations if "encounter" in r}
    assert expected and keys(bundle, "include") == expected

    both = (
        await http.get(
            "/Observation",
            params=[
                ("patient", pid),
                ("_count", "5"),
                ("_include", "Observation:subject:Patient"),
                ("_include", "Observation:encounter"),
            ],
        )
    ).json()
    page = [e["resource"] for e in both["entry"] if e["search"]["mode"] == "match"]
    assert len(page) == 5
    assert keys(both, "include") == {f"Patient/{pid}"} | {
        r["encounter"]["reference"] for r in page if "encounter" in r
    }
    other_target = await http.get(
        "/Observation",
        params={"patient": pid, "_include": "Observation:subject:Practitioner"},
    )
    assert keys(other_target.json(), "include") == set()


async def test_include_star_adds_every_stored_reference(
    http: httpx.AsyncClient, hiv: SyntheaSet, store: EmbeddedStore
) -> None:
    _, resources = smallest(hiv)
    encounters = [r for r in resources if r["resourceType"] == "Encounter"][:10]
    ids = ",".join(r["id"] for r in encounters)
    bundle = (await http.get("/Encounter", params={"_id": ids, "_include": "*"})).json()
    pointed = {ref for r in encounters for ref in references(r)}
    stored = {
        ref
        for ref in pointed
        if (target := parse_reference(ref)) and store.read_text(*target) is not None
    }
    assert {"Patient", "Practitioner", "Organization"} <= {k.split("/")[0] for k in stored}
    assert keys(bundle, "include") == stored


async def test_revinclude_adds_what_points_at_the_page(
    http: httpx.AsyncClient, hiv: SyntheaSet
) -> None:
    pid, resources = smallest(hiv)
    bundle = (
        await http.get(
            "/Patient",
            params=[
                ("_id", pid),
                ("_revinclude", "Observation:subject"),
                ("_revinclude", "Encounter:patient:Patient"),
            ],
        )
    ).json()
    expected = {
        f"{r['resourceType']}/{r['id']}"
        for r in resources
        if r["resourceType"] in ("Observation", "Encounter")
    }
    assert keys(bundle, "match") == {f"Patient/{pid}"}
    assert keys(bundle, "include") == expected


async def test_revinclude_star_stops_at_the_bound_and_says_so(
    http: httpx.AsyncClient, hiv: SyntheaSet
) -> None:
    pid, resources = max(hiv.patients.items(), key=lambda item: len(item[1]))
    referring = [r for r in resources if f"Patient/{pid}" in set(references(r))]
    assert len(referring) > MAX_INCLUDED_PER_PAGE  # the test is only meaningful then
    bundle = (await http.get("/Patient", params={"_id": pid, "_revinclude": "*"})).json()
    included = keys(bundle, "include")
    assert len(included) == MAX_INCLUDED_PER_PAGE
    assert included <= {f"{r['resourceType']}/{r['id']}" for r in referring}
    (warning,) = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert str(MAX_INCLUDED_PER_PAGE) in warning["resource"]["issue"][0]["diagnostics"]


async def test_iterate_follows_what_was_included(http: httpx.AsyncClient, hiv: SyntheaSet) -> None:
    pid, resources = min(
        (
            (pid, rs)
            for pid, rs in hiv.patients.items()
            if any(r["resourceType"] == "MedicationRequest" and "encounter" in r for r in rs)
        ),
        key=lambda item: len(item[1]),
    )
    by_key = {f"{r['resourceType']}/{r['id']}": r for r in resources}
    orders = [r for r in resources if r["resourceType"] == "MedicationRequest"]
    encounters = {r["encounter"]["reference"] for r in orders if "encounter" in r}
    providers = {by_key[e]["serviceProvider"]["reference"] for e in encounters}
    bundle = (
        await http.get(
            "/MedicationRequest",
            params=[
                ("patient", pid),
                ("_count", "1000"),
                ("_include", "MedicationRequest:encounter"),
                ("_include:iterate", "Encounter:service-provider"),
            ],
        )
    ).json()
    assert encounters and providers
    assert keys(bundle, "include") == encounters | providers

    reverse = (
        await http.get(
            "/Patient",
            params=[
                ("_id", pid),
                ("_revinclude", "Encounter:patient"),
                ("_revinclude:iterate", "Observation:encounter"),
            ],
        )
    ).json()
    all_encounters = {k for k in by_key if k.startswith("Encounter/")}
    observed = {
        k
        for k, r in by_key.items()
        if k.startswith("Observation/")
        and r.get("encounter", {}).get("reference") in all_encounters
    }
    assert keys(reverse, "include") == all_encounters | observed
    assert not [e for e in reverse["entry"] if e["search"]["mode"] == "outcome"]


async def test_runaway_iteration_is_bounded_and_said(
    http: httpx.AsyncClient, hiv: SyntheaSet
) -> None:
    _, resources = max(hiv.patients.items(), key=lambda item: len(item[1]))
    observation = next(r for r in resources if r["resourceType"] == "Observation")
    params = [
        ("_id", observation["id"]),
        ("_include:iterate", "*"),
        ("_revinclude:iterate", "*"),
    ]
    bundle = (await http.get("/Observation", params=params)).json()
    assert 0 < len(keys(bundle, "include")) <= MAX_INCLUDED_PER_PAGE
    (warning,) = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert "left out" in warning["resource"]["issue"][0]["diagnostics"]
