"""FhirClient searches: paging, bounds, entry filtering, count, $everything and URL safety."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx

from fhir_client._paging import next_link
from fhir_client.client import FhirClient
from fhir_client.errors import InvalidResponse, SearchTruncated
from fhir_client.limits import EVERYTHING_PAGE_SIZE

BASE = "https://fhir.example.org/r4"


def obs(i: int) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": f"o{i}", "status": "final"}


def searchset(
    resources: list[dict[str, Any]],
    *,
    next_url: str | None = None,
    mode: str = "match",
    total: int | None = None,
) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r, "search": {"mode": mode}} for r in resources],
        "link": [{"relation": "self", "url": f"{BASE}/Observation"}],
    }
    if next_url is not None:
        bundle["link"].append({"relation": "next", "url": next_url})
    if total is not None:
        bundle["total"] = total
    return bundle


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
async def client() -> AsyncIterator[FhirClient]:
    async with FhirClient(BASE, max_pages=5) as fhir:
        yield fhir


def three_page_server(router: respx.MockRouter) -> respx.Route:
    """Page 1 links with a relative URL, page 2 with an absolute same-origin URL."""

    def handler(request: httpx.Request) -> httpx.Response:
        page = request.url.params.get("page", "1")
        if page == "1":
            return httpx.Response(
                200, json=searchset([obs(1), obs(2)], next_url="Observation?page=2")
            )
        if page == "2":
            return httpx.Response(
                200, json=searchset([obs(3), obs(4)], next_url=f"{BASE}/Observation?page=3")
            )
        return httpx.Response(200, json=searchset([obs(5)]))

    return router.get(url__startswith=f"{BASE}/Observation").mock(side_effect=handler)


async def test_search_follows_relative_and_absolute_next_links(
    router: respx.MockRouter, client: FhirClient
) -> None:
    route = three_page_server(router)
    result = await client.search("Observation", {"patient": "p1"})
    assert [r["id"] for r in result] == ["o1", "o2", "o3", "o4", "o5"]
    assert route.call_count == 3
    assert route.calls[0].request.url.params["patient"] == "p1"
    assert [str(c.request.url) for c in route.calls[1:]] == [
        f"{BASE}/Observation?page=2",
        f"{BASE}/Observation?page=3",
    ]


async def test_foreign_origin_next_link_is_refused(
    router: respx.MockRouter, client: FhirClient
) -> None:
    router.get(f"{BASE}/Observation").respond(
        200, json=searchset([obs(1)], next_url="https://evil.example.com/r4/Observation?page=2")
    )
    evil = router.get(url__startswith="https://evil.example.com")
    with pytest.raises(InvalidResponse, match=r"evil\.example\.com"):
        await client.search("Observation")
    assert not evil.called


async def test_next_link_on_other_port_or_scheme_is_refused(
    router: respx.MockRouter, client: FhirClient
) -> None:
    router.get(f"{BASE}/Observation").respond(
        200, json=searchset([obs(1)], next_url="http://fhir.example.org/r4/Observation?page=2")
    )
    with pytest.raises(InvalidResponse, match="another origin"):
        await client.search("Observation")


async def test_default_port_written_out_counts_as_same_origin(
    router: respx.MockRouter, client: FhirClient
) -> None:
    router.get(f"{BASE}/Observation", params={"page": "2"}).respond(200, json=searchset([obs(2)]))
    router.get(f"{BASE}/Observation").respond(
        200, json=searchset([obs(1)], next_url="https://FHIR.example.org:443/r4/Observation?page=2")
    )
    result = await client.search("Observation")
    assert [r["id"] for r in result] == ["o1", "o2"]


async def test_search_raises_truncated_when_pages_remain(router: respx.MockRouter) -> None:
    route = three_page_server(router)
    async with FhirClient(BASE, max_pages=2) as fhir:
        with pytest.raises(SearchTruncated) as info:
            await fhir.search("Observation")
    assert route.call_count == 2
    assert [r["id"] for r in info.value.resources] == ["o1", "o2", "o3", "o4"]
    assert info.value.pages_fetched == 2
    assert "max_pages" in str(info.value)


async def test_per_call_max_pages_overrides_default(
    router: respx.MockRouter, client: FhirClient
) -> None:
    three_page_server(router)
    with pytest.raises(SearchTruncated):
        await client.search("Observation", max_pages=1)
    # Exactly enough pages is not a truncation.
    result = await client.search("Observation", max_pages=3)
    assert len(result) == 5


async def test_max_results_stops_quietly(router: respx.MockRouter, client: FhirClient) -> None:
    route = three_page_server(router)
    result = await client.search("Observation", max_results=3)
    assert [r["id"] for r in result] == ["o1", "o2", "o3"]
    assert route.call_count == 2
    # max_results also sizes the first page when the caller did not choose _count.
    assert route.calls[0].request.url.params["_count"] == "3"


async def test_max_results_with_page_bound_returns_partial_without_raising(
    router: respx.MockRouter,
) -> None:
    three_page_server(router)
    async with FhirClient(BASE, max_pages=1) as fhir:
        result = await fhir.search("Observation", max_results=50)
    assert [r["id"] for r in result] == ["o1", "o2"]


async def test_include_and_outcome_entries_are_excluded(
    router: respx.MockRouter, client: FhirClient
) -> None:
    bundle = searchset([obs(1)])
    bundle["entry"] += [
        {"resource": {"resourceType": "Patient", "id": "p1"}, "search": {"mode": "include"}},
        {
            "resource": {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "warning", "code": "processing", "diagnostics": "slow"}],
            },
            "search": {"mode": "outcome"},
        },
        {"resource": obs(2)},  # no search.mode: counts as a match
        {"fullUrl": "urn:uuid:no-resource"},
    ]
    router.get(f"{BASE}/Observation").respond(200, json=bundle)
    result = await client.search("Observation", {"_include": "Observation:patient"})
    assert [(r["resourceType"], r["id"]) for r in result] == [
        ("Observation", "o1"),
        ("Observation", "o2"),
    ]


async def test_sequence_params_repeat_and_commas_pass_through(
    router: respx.MockRouter,
) -> None:
    route = router.get(f"{BASE}/Observation").respond(200, json=searchset([]))
    async with FhirClient(BASE, page_size=50) as fhir:
        await fhir.search(
            "Observation",
            {
                "date": ["ge2020-01-01", "lt2021-01-01"],
                "code": "http://loinc.org|1,http://loinc.org|2",
            },
        )
        await fhir.search("Observation", {"_count": "10"})
    first = route.calls[0].request.url.params
    assert first.get_list("date") == ["ge2020-01-01", "lt2021-01-01"]
    assert first.get_list("code") == ["http://loinc.org|1,http://loinc.org|2"]
    assert first.get_list("_count") == ["50"]
    assert route.calls[1].request.url.params.get_list("_count") == ["10"]


async def test_non_string_param_value_is_rejected(client: FhirClient) -> None:
    with pytest.raises(TypeError, match="'date'"):
        await client.search("Observation", {"date": [None]})  # type: ignore[list-item]


async def test_search_page_iter_yields_bundles_up_to_bound(
    router: respx.MockRouter, client: FhirClient
) -> None:
    three_page_server(router)
    bundles = [b async for b in client.search_page_iter("Observation", max_pages=2)]
    assert len(bundles) == 2
    assert all(b["resourceType"] == "Bundle" for b in bundles)
    assert next_link(bundles[-1]) == f"{BASE}/Observation?page=3"


async def test_search_bundle_returns_first_page_as_is(
    router: respx.MockRouter, client: FhirClient
) -> None:
    route = three_page_server(router)
    bundle = await client.search_bundle("Observation")
    assert bundle == searchset([obs(1), obs(2)], next_url="Observation?page=2")
    assert route.call_count == 1


async def test_looping_next_link_is_stopped(router: respx.MockRouter, client: FhirClient) -> None:
    router.get(f"{BASE}/Observation").respond(
        200, json=searchset([obs(1)], next_url=f"{BASE}/Observation?page=2")
    )
    with pytest.raises(InvalidResponse, match="same next-page link"):
        await client.search("Observation")


async def test_count_uses_summary_count(router: respx.MockRouter) -> None:
    route = router.get(f"{BASE}/Condition").respond(200, json=searchset([], total=42))
    async with FhirClient(BASE, page_size=100) as fhir:
        assert await fhir.count("Condition", {"patient": "p1"}) == 42
    params = route.calls[0].request.url.params
    assert params["_summary"] == "count"
    assert params["patient"] == "p1"
    assert "_count" not in params


async def test_count_without_total_is_invalid_response(
    router: respx.MockRouter, client: FhirClient
) -> None:
    router.get(f"{BASE}/Condition").respond(200, json=searchset([]))
    with pytest.raises(InvalidResponse, match="total"):
        await client.count("Condition")


async def test_everything_follows_pages(router: respx.MockRouter, client: FhirClient) -> None:
    everything = f"{BASE}/Patient/p1/$everything"
    page2 = router.get(everything, params={"page": "2"}).respond(
        200, json=searchset([obs(2)], mode="include")
    )
    first = router.get(everything).respond(
        200,
        json=searchset(
            [{"resourceType": "Patient", "id": "p1"}, obs(1)], next_url=f"{everything}?page=2"
        ),
    )
    result = await client.everything("p1")
    assert [(r["resourceType"], r["id"]) for r in result] == [
        ("Patient", "p1"),
        ("Observation", "o1"),
        ("Observation", "o2"),
    ]
    assert first.call_count == 1
    assert page2.call_count == 1
    sent = first.calls[0].request.url
    assert sent.path == "/r4/Patient/p1/$everything"
    # Large pages: a server's default (HAPI's 20) would need a hundred requests a record.
    assert sent.params["_count"] == str(EVERYTHING_PAGE_SIZE)


async def test_everything_truncation_raises(router: respx.MockRouter, client: FhirClient) -> None:
    everything = f"{BASE}/Patient/p1/$everything"
    router.get(everything).respond(200, json=searchset([obs(1)], next_url=f"{everything}?p=2"))
    with pytest.raises(SearchTruncated):
        await client.everything("p1", max_pages=1)


@pytest.mark.parametrize("base", [BASE, BASE + "/", BASE + "//", "  " + BASE + "/ "])
async def test_trailing_slash_gives_identical_urls(router: respx.MockRouter, base: str) -> None:
    read = router.get(f"{BASE}/Patient/p1").respond(
        200, json={"resourceType": "Patient", "id": "p1"}
    )
    meta = router.get(f"{BASE}/metadata").respond(
        200, json={"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1"}
    )
    async with FhirClient(base) as fhir:
        assert fhir.base_url == BASE
        await fhir.read("Patient", "p1")
        caps = await fhir.capabilities()
    assert str(read.calls[0].request.url) == f"{BASE}/Patient/p1"
    assert str(meta.calls[0].request.url) == f"{BASE}/metadata"
    assert caps["fhirVersion"] == "4.0.1"


@pytest.mark.parametrize(
    ("resource_type", "resource_id"),
    [
        ("Patient", "../x"),
        ("Patient", ".."),
        ("Patient", "."),
        ("Patient", "a/b"),
        ("Patient", ""),
        ("Patient", "x" * 65),
        ("Patient", "p1?_format=xml"),
        ("Patient", "p 1"),
        ("../Patient", "p1"),
        ("patient", "p1"),
        ("Patient/1", "p1"),
    ],
)
async def test_invalid_type_or_id_raises_before_any_request(
    router: respx.MockRouter, client: FhirClient, resource_type: str, resource_id: str
) -> None:
    any_request = router.route()
    with pytest.raises(ValueError):
        await client.read(resource_type, resource_id)
    assert not any_request.called


async def test_invalid_patient_id_for_everything_raises_before_any_request(
    router: respx.MockRouter, client: FhirClient
) -> None:
    any_request = router.route()
    with pytest.raises(ValueError, match="not a valid FHIR id"):
        await client.everything("../../Patient")
    assert not any_request.called


@pytest.mark.parametrize("base", ["fhir.example.org/r4", "ftp://x/r4", "https://x/r4?a=1", ""])
def test_unusable_base_url_is_rejected(base: str) -> None:
    with pytest.raises(ValueError, match="base URL"):
        FhirClient(base)
