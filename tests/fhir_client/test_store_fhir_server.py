"""The embedded facade as a FHIR R4 server: versions, validators, subsets, counts, formats
and the capability statement (includes are in ``test_store_fhir_server_includes.py``).

Runs in-process (httpx over ASGI) against genuine Synthea output from another project
(tests/support/data/synthea-external). Every expected answer is computed from the bundle JSON
(tests/support/synthea_sets.py), never from the store under test; the server and its
helpers are in ``tests/support/hiv_server.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import httpx
import pytest

from fhir_client.embedded import EmbeddedStore, embedded_asgi_app
from fhir_client.embedded.app import create_fhir_app
from tests.support.hiv_server import BASE, hiv, http, smallest, store
from tests.support.synthea_sets import Resource, SyntheaSet

__all__ = ["hiv", "http", "store"]  # fixtures used here by name


async def test_read_vread_and_history_serve_the_stored_version(
    http: httpx.AsyncClient, hiv: SyntheaSet
) -> None:
    pid, _ = smallest(hiv)
    read = await http.get(f"/Patient/{pid}")
    assert read.status_code == 200
    version = read.json()["meta"]["versionId"]
    assert read.headers["etag"] == f'W/"{version}"'
    stamp = datetime.fromisoformat(read.json()["meta"]["lastUpdated"].replace("Z", "+00:00"))
    assert parsedate_to_datetime(read.headers["last-modified"]) == stamp.replace(microsecond=0)

    vread = await http.get(f"/Patient/{pid}/_history/{version}")
    assert vread.status_code == 200 and vread.json() == read.json()
    assert vread.headers["etag"] == read.headers["etag"]

    missing = await http.get(f"/Patient/{pid}/_history/{int(version) + 1}")
    assert missing.status_code == 404
    assert f"current version, {version}" in missing.json()["issue"][0]["diagnostics"]

    history = (await http.get(f"/Patient/{pid}/_history")).json()
    assert history["type"] == "history" and history["total"] == 1
    (entry,) = history["entry"]
    assert entry["resource"] == read.json()
    assert entry["response"]["etag"] == f'W/"{version}"'

    assert (await http.get("/Patient/nobody/_history")).status_code == 404
    assert (await http.get("/Patient/nobody/_history/1")).status_code == 404
    assert (await http.get(f"/Patient/{pid}/_history?_at=2020")).status_code == 400


async def test_a_new_version_replaces_the_old_one(hiv: SyntheaSet) -> None:
    _, resources = smallest(hiv)
    store = EmbeddedStore(":memory:")
    try:
        patient = next(r for r in resources if r["resourceType"] == "Patient")
        store.put_resources([patient])
        store.put_resources([{**patient, "gender": "other"}])
        transport = httpx.ASGITransport(app=embedded_asgi_app(store))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            assert (await http.get(f"/Patient/{patient['id']}/_history/1")).status_code == 404
            second = await http.get(f"/Patient/{patient['id']}/_history/2")
            assert second.status_code == 200 and second.json()["gender"] == "other"
            assert second.headers["etag"] == 'W/"2"'
    finally:
        store.close()


@pytest.mark.parametrize("tag", ['W/"{v}"', '"{v}"', "{v}", 'W/"0", W/"{v}"', "*"])
async def test_if_none_match_of_the_stored_version_is_304(
    http: httpx.AsyncClient, hiv: SyntheaSet, tag: str
) -> None:
    pid, _ = smallest(hiv)
    version = (await http.get(f"/Patient/{pid}")).json()["meta"]["versionId"]
    response = await http.get(f"/Patient/{pid}", headers={"If-None-Match": tag.format(v=version)})
    assert response.status_code == 304 and response.content == b""
    assert response.headers["etag"] == f'W/"{version}"'


async def test_conditional_read_sends_the_resource_when_it_changed(
    http: httpx.AsyncClient, hiv: SyntheaSet
) -> None:
    pid, _ = smallest(hiv)
    stale = await http.get(f"/Patient/{pid}", headers={"If-None-Match": 'W/"999"'})
    assert stale.status_code == 200 and stale.json()["id"] == pid
    future = format_datetime(datetime.now(UTC) + timedelta(days=1), usegmt=True)
    past = format_datetime(datetime.now(UTC) - timedelta(days=3650), usegmt=True)
    assert (
        await http.get(f"/Patient/{pid}", headers={"If-Modified-Since": future})
    ).status_code == 304
    assert (
        await http.get(f"/Patient/{pid}", headers={"If-Modified-Since": past})
    ).status_code == 200
    garbage = await http.get(f"/Patient/{pid}", headers={"If-Modified-Since": "yesterday"})
    assert garbage.status_code == 200


@pytest.mark.parametrize(
    ("params", "phrase"),
    [
        ({"_include:frob": "Observation:encounter"}, "_include:frob is not supported"),
        ({"_include": "Encounter:subject"}, "this search returns Observation"),
        ({"_include": "Observation:code"}, "not a reference parameter"),
        ({"_include": "Observation"}, "Type:param"),
        ({"_revinclude": "Nonsense:subject"}, "does not hold"),
        ({"_elements": "code.coding"}, "nested paths"),
    ],
)
async def test_unsupported_include_and_elements_forms_are_400(
    http: httpx.AsyncClient, params: dict[str, str], phrase: str
) -> None:
    response = await http.get("/Observation", params=params)
    assert response.status_code == 400
    assert phrase in response.json()["issue"][0]["diagnostics"]


async def test_elements_returns_a_marked_subset(http: httpx.AsyncClient, hiv: SyntheaSet) -> None:
    pid, resources = smallest(hiv)
    bundle = (
        await http.get(
            "/Observation",
            params={"patient": pid, "_elements": "code,Observation.value", "_count": "1000"},
        )
    ).json()
    by_id = {r["id"]: r for r in resources if r["resourceType"] == "Observation"}
    entries = [e["resource"] for e in bundle["entry"]]
    assert len(entries) == len(by_id)
    for subset in entries:
        original = by_id[subset["id"]]
        wanted = {"resourceType", "id", "meta", "code"} | {
            key for key in original if key.startswith("value")
        }
        assert set(subset) == wanted
        assert subset["code"] == original["code"]
        assert {"code": "SUBSETTED"}.items() <= subset["meta"]["tag"][-1].items()
    read = (await http.get(f"/Patient/{pid}", params={"_elements": "gender"})).json()
    assert set(read) == {"resourceType", "id", "meta", "gender"}


async def test_counting_without_entries(http: httpx.AsyncClient, hiv: SyntheaSet) -> None:
    pid, resources = smallest(hiv)
    expected = sum(r["resourceType"] == "Observation" for r in resources)
    for params in (
        {"patient": pid, "_summary": "count"},
        {"patient": pid, "_count": "0", "_totalMethod": "count"},  # fhirpy's count()
    ):
        bundle = (await http.get("/Observation", params=params)).json()
        assert bundle["total"] == expected and "entry" not in bundle


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/Patient?_format=xml", {}),
        ("/metadata?_format=application/fhir%2Bxml", {}),
        ("/Patient", {"Accept": "application/fhir+xml"}),
        ("/Patient", {"Accept": "application/fhir+turtle, application/fhir+json;q=0"}),
        ("/Patient/x/_history/1", {"Accept": "application/xml"}),
    ],
)
async def test_formats_other_than_json_are_406(
    http: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    response = await http.get(path, headers=headers)
    assert response.status_code == 406
    assert "FHIR JSON only" in response.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    "accept",
    ["application/fhir+json", "application/json", "text/html,application/xhtml+xml,*/*;q=0.8"],
)
async def test_json_and_browser_accept_headers_are_served(
    http: httpx.AsyncClient, accept: str
) -> None:
    response = await http.get("/Patient", params={"_format": "json"}, headers={"Accept": accept})
    assert response.status_code == 200 and response.json()["type"] == "searchset"


async def _capabilities(store: EmbeddedStore, *, writable: bool) -> Resource:
    app = create_fhir_app(store, writable=writable)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://x"
    ) as http:
        return dict((await http.get("/metadata")).json())


async def test_read_only_capabilities_list_no_writes(store: EmbeddedStore) -> None:
    read_only = await _capabilities(store, writable=False)
    rest = read_only["rest"][0]
    assert [i["code"] for i in rest["interaction"]] == ["history-system"]  # no transaction
    for resource in rest["resource"]:
        codes = {i["code"] for i in resource["interaction"]}
        assert codes == {"read", "vread", "search-type", "history-instance", "history-type"}
        assert "updateCreate" not in resource
    writable = await _capabilities(store, writable=True)
    assert {i["code"] for i in writable["rest"][0]["interaction"]} == {
        "history-system",
        "transaction",
        "batch",
    }
    assert {"update", "delete"} <= {
        i["code"] for i in writable["rest"][0]["resource"][0]["interaction"]
    }


async def test_read_only_app_has_no_write_routes(store: EmbeddedStore, hiv: SyntheaSet) -> None:
    pid, resources = smallest(hiv)
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    app = create_fhir_app(store, writable=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://x"
    ) as http:
        assert (await http.put(f"/Patient/{pid}", json=patient)).status_code == 405
        assert (await http.delete(f"/Patient/{pid}")).status_code == 405
        assert (await http.post("/", json={"resourceType": "Bundle"})).status_code == 405
        assert (await http.get(f"/Patient/{pid}")).status_code == 200


async def test_every_advertised_include_is_answered(
    http: httpx.AsyncClient, store: EmbeddedStore
) -> None:
    statement = await _capabilities(store, writable=False)
    for resource in statement["rest"][0]["resource"]:
        rtype = resource["type"]
        for value in resource["searchInclude"]:
            response = await http.get(f"/{rtype}", params={"_count": "1", "_include": value})
            assert response.status_code == 200, (rtype, value, response.text)
        for value in resource["searchRevInclude"][:3]:
            response = await http.get(f"/{rtype}", params={"_count": "1", "_revinclude": value})
            assert response.status_code == 200, (rtype, value, response.text)
        for param in resource["searchParam"][1:]:  # every one but _id takes :missing
            response = await http.get(f"/{rtype}", params={f"{param['name']}:missing": "true"})
            assert response.status_code == 200, (rtype, param["name"], response.text)


def test_stored_version_matches_the_stored_meta(store: EmbeddedStore, hiv: SyntheaSet) -> None:
    pid, _ = smallest(hiv)
    stored = store.read_version("Patient", pid)
    assert stored is not None
    version, last_updated, text = stored
    assert json.loads(text)["meta"] == {**json.loads(text)["meta"], "versionId": str(version)}
    assert json.loads(text)["meta"]["lastUpdated"] == last_updated
