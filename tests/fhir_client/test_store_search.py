"""Search semantics of the embedded facade on genuine Synthea data.

Every expected id set is computed here straight from the bundle JSON, with
deliberately simple code (string slices of the written dates, plain loops over
codings), never through the store. Date expectations follow HAPI FHIR: a
day-precision search compares the date as written; a search with a time
compares instants.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_store_support import Resource, SyntheaSet, load_synthea_dir

from fhir_client.embedded import EMBEDDED_BASE_URL, EmbeddedStore, embedded_asgi_app
from tests.support.shared_data import synthea_external

LOINC = "http://loinc.org"


@pytest.fixture(scope="module")
def hiv() -> SyntheaSet:
    return load_synthea_dir(synthea_external("fhir-data-pipes-hiv"))


@pytest.fixture(scope="module")
def store(hiv: SyntheaSet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    db = EmbeddedStore(tmp_path_factory.mktemp("store") / "hiv.db")
    db.put_resources(hiv.shared)
    for resources in hiv.patients.values():
        db.put_resources(resources)
    yield db
    db.close()


@pytest.fixture
async def fhir(store: EmbeddedStore) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=embedded_asgi_app(store))
    async with httpx.AsyncClient(transport=transport, base_url=EMBEDDED_BASE_URL + "/") as client:
        yield client


@pytest.fixture(scope="module")
def busiest(hiv: SyntheaSet) -> tuple[str, list[Resource]]:
    """The patient with the most Observations, and their resources."""
    pid = max(
        hiv.patients,
        key=lambda p: sum(r["resourceType"] == "Observation" for r in hiv.patients[p]),
    )
    return pid, hiv.patients[pid]


def of_type(resources: list[Resource], rtype: str) -> list[Resource]:
    return [r for r in resources if r["resourceType"] == rtype]


async def all_ids(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> list[str]:
    """Every id of a search, following next links (so paging is exercised too)."""
    ids: list[str] = []
    response = await client.get(path, params={**params, "_count": "1000"})
    while True:
        assert response.status_code == 200, response.text
        bundle = response.json()
        ids.extend(e["resource"]["id"] for e in bundle.get("entry", []))
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not nxt:
            return ids
        response = await client.get(nxt[0])


def codings(concept: Any) -> list[tuple[str | None, str]]:
    concepts = concept if isinstance(concept, list) else [concept]
    return [(c.get("system"), c["code"]) for cc in concepts if cc for c in cc.get("coding", [])]


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
