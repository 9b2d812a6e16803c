"""Search semantics of the embedded facade on genuine Synthea data: Observations by code,
category, status and date, sorting, paging and counting.

Every expected id set is computed here straight from the bundle JSON, with deliberately
simple code (string slices of the written dates, plain loops over codings), never through
the store; the store and its helpers are in ``tests/support/hiv_search.py``.  Date
expectations follow HAPI FHIR: a day-precision search compares the date as written; a
search with a time compares instants.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

import httpx

from fhir_client.embedded import EMBEDDED_BASE_URL
from tests.support.hiv_search import all_ids, busiest, codings, fhir, hiv, of_type, store
from tests.support.synthea_sets import Resource

LOINC = "http://loinc.org"

__all__ = ["busiest", "fhir", "hiv", "store"]  # fixtures used here by name


async def test_observation_by_code_with_system_and_bare(
    fhir: httpx.AsyncClient, busiest: tuple[str, list[Resource]]
) -> None:
    pid, resources = busiest
    observations = of_type(resources, "Observation")
    code_counts = Counter(c for o in observations for c in codings(o["code"]))
    (system, code), _ = code_counts.most_common(1)[0]
    expected_system = {o["id"] for o in observations if (system, code) in codings(o["code"])}
    expected_bare = {o["id"] for o in observations if code in [c for _, c in codings(o["code"])]}

    with_system = await all_ids(fhir, "Observation", {"patient": pid, "code": f"{system}|{code}"})
    bare = await all_ids(fhir, "Observation", {"patient": f"Patient/{pid}", "code": code})

    assert expected_system
    assert set(with_system) == expected_system and len(with_system) == len(expected_system)
    assert set(bare) == expected_bare
    wrong_system = await all_ids(fhir, "Observation", {"patient": pid, "code": f"x:y|{code}"})
    assert wrong_system == []


async def test_code_or_and_and(
    fhir: httpx.AsyncClient, busiest: tuple[str, list[Resource]]
) -> None:
    pid, resources = busiest
    observations = of_type(resources, "Observation")
    top = [
        c for c, _ in Counter(c for o in observations for _, c in codings(o["code"])).most_common(2)
    ]
    expected_or = {o["id"] for o in observations if {c for _, c in codings(o["code"])} & set(top)}
    got_or = await all_ids(fhir, "Observation", {"patient": pid, "code": ",".join(top)})
    assert set(got_or) == expected_or
    response = await fhir.get(
        "Observation", params=[("patient", pid), ("code", top[0]), ("code", top[1])]
    )
    expected_and = {o["id"] for o in observations if set(top) <= {c for _, c in codings(o["code"])}}
    assert {e["resource"]["id"] for e in response.json().get("entry", [])} == expected_and


async def test_category_and_status(
    fhir: httpx.AsyncClient, busiest: tuple[str, list[Resource]]
) -> None:
    pid, resources = busiest
    observations = of_type(resources, "Observation")
    categories = {c for o in observations for _, c in codings(o.get("category", []))}
    assert categories, "the data set should have categorised observations"
    for category in categories:
        expected = {
            o["id"]
            for o in observations
            if category in [c for _, c in codings(o.get("category", []))]
        }
        got = await all_ids(fhir, "Observation", {"patient": pid, "category": category})
        assert set(got) == expected, category
    finals = {o["id"] for o in observations if o.get("status") == "final"}
    assert set(await all_ids(fhir, "Observation", {"subject": pid, "status": "final"})) == finals


def _effective_day(resource: Resource) -> str:
    return str(resource["effectiveDateTime"])[:10]


async def test_observation_date_ranges_day_precision(
    fhir: httpx.AsyncClient, busiest: tuple[str, list[Resource]]
) -> None:
    pid, resources = busiest
    observations = [o for o in of_type(resources, "Observation") if "effectiveDateTime" in o]
    days = sorted(_effective_day(o) for o in observations)
    cutoff = days[len(days) // 2]
    later = days[(3 * len(days)) // 4]
    cases: dict[str, Callable[[str], bool]] = {
        f"ge{cutoff}": lambda d: d >= cutoff,
        f"gt{cutoff}": lambda d: d > cutoff,
        f"lt{cutoff}": lambda d: d < cutoff,
        f"le{cutoff}": lambda d: d <= cutoff,
        cutoff: lambda d: d == cutoff,
        f"ne{cutoff}": lambda d: d != cutoff,
        f"ge{cutoff[:7]}": lambda d: d[:7] >= cutoff[:7],
        f"eq{cutoff[:4]}": lambda d: d[:4] == cutoff[:4],
    }
    for value, keep in cases.items():
        expected = {o["id"] for o in observations if keep(_effective_day(o))}
        got = await all_ids(fhir, "Observation", {"patient": pid, "date": value})
        assert set(got) == expected, value
    response = await fhir.get(
        "Observation",
        params=[
            ("patient", pid),
            ("date", f"ge{cutoff}"),
            ("date", f"lt{later}"),
            ("_count", "1000"),
        ],
    )
    expected = {o["id"] for o in observations if cutoff <= _effective_day(o) < later}
    assert {e["resource"]["id"] for e in response.json().get("entry", [])} == expected


async def test_observation_date_with_time_compares_instants(
    fhir: httpx.AsyncClient, busiest: tuple[str, list[Resource]]
) -> None:
    pid, resources = busiest
    observations = [o for o in of_type(resources, "Observation") if "effectiveDateTime" in o]
    moments = sorted(datetime.fromisoformat(o["effectiveDateTime"]) for o in observations)
    pivot = moments[len(moments) // 3]
    stamp = pivot.isoformat()
    expected_ge = {
        o["id"] for o in observations if datetime.fromisoformat(o["effectiveDateTime"]) >= pivot
    }
    expected_lt = {
        o["id"] for o in observations if datetime.fromisoformat(o["effectiveDateTime"]) < pivot
    }
    assert expected_ge and expected_lt
    assert set(await all_ids(fhir, "Observation", {"patient": pid, "date": f"ge{stamp}"})) == (
        expected_ge
    )
    assert set(await all_ids(fhir, "Observation", {"patient": pid, "date": f"lt{stamp}"})) == (
        expected_lt
    )


async def test_sort_by_date_both_ways(
    fhir: httpx.AsyncClient, busiest: tuple[str, list[Resource]]
) -> None:
    pid, resources = busiest
    observations = of_type(resources, "Observation")
    when = {o["id"]: datetime.fromisoformat(o["effectiveDateTime"]) for o in observations}
    descending = await all_ids(fhir, "Observation", {"patient": pid, "_sort": "-date"})
    ascending = await all_ids(fhir, "Observation", {"patient": pid, "_sort": "date"})
    assert sorted(descending) == sorted(when)
    assert [when[i] for i in descending] == sorted(when.values(), reverse=True)
    assert [when[i] for i in ascending] == sorted(when.values())


async def test_paging_walk_returns_every_id_once(
    fhir: httpx.AsyncClient, busiest: tuple[str, list[Resource]]
) -> None:
    pid, resources = busiest
    expected = {r["id"] for r in of_type(resources, "Encounter")}
    response = await fhir.get("Encounter", params={"patient": pid, "_count": "7", "_sort": "date"})
    seen: list[str] = []
    pages = 0
    while True:
        bundle = response.json()
        pages += 1
        assert bundle["total"] == len(expected)
        seen.extend(e["resource"]["id"] for e in bundle.get("entry", []))
        for entry in bundle.get("entry", []):
            assert entry["fullUrl"] == f"{EMBEDDED_BASE_URL}/Encounter/{entry['resource']['id']}"
            assert entry["search"]["mode"] == "match"
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        if "next" not in links:
            break
        assert links["next"].startswith(EMBEDDED_BASE_URL + "/Encounter?")
        response = await fhir.get(links["next"])
    assert pages == -(-len(expected) // 7) and pages >= 3
    assert len(seen) == len(set(seen)) and set(seen) == expected
    assert "previous" in links


async def test_summary_count(fhir: httpx.AsyncClient, busiest: tuple[str, list[Resource]]) -> None:
    pid, resources = busiest
    response = await fhir.get("Observation", params={"patient": pid, "_summary": "count"})
    bundle = response.json()
    assert bundle["total"] == len(of_type(resources, "Observation"))
    assert "entry" not in bundle
