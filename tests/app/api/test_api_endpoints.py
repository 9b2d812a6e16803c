"""The HTTP API against a running server (uvicorn on localhost, model ``none``).

Expected facts come from the fixture bundles' JSON; the server reads the same bundles
through the embedded store, the tools and the graph.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from agent.api.schemas import DISCLAIMER, AnswerOut
from agent.summary import SummaryOutput
from tests.support.api_server import (
    fixture_patients,
    hba1c_patient,
    hba1c_results,
    of_type,
    running_server,
    sse_events,
    store_copy,
)

CITATION = re.compile(r"\[([A-Z][A-Za-z]+/[A-Za-z0-9\-.]+)\]")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    db = store_copy(tmp_path_factory.mktemp("api"), tmp_path_factory.getbasetemp())
    with running_server(db) as base_url, httpx.Client(base_url=base_url, timeout=60) as client:
        yield client


def _food_allergy_patient() -> tuple[str, set[str]]:
    """A patient with active allergies, some of them food (for the follow-up)."""
    for pid, resources in fixture_patients().items():
        active = [
            a
            for a in of_type(resources, "AllergyIntolerance")
            if a.get("clinicalStatus", {}).get("coding", [{}])[0].get("code", "active") == "active"
        ]
        food = {f"AllergyIntolerance/{a['id']}" for a in active if a.get("category") == ["food"]}
        if food and len(food) < len(active):
            return pid, food
    pytest.fail("no fixture patient has both food and other active allergies")


def test_patients_lists_every_fixture_patient(api: httpx.Client) -> None:
    response = api.get("/patients")
    assert response.status_code == 200
    listed = response.json()
    assert {p["id"] for p in listed} == set(fixture_patients())
    # Sorted by family, then given name (of each patient's first HumanName).
    first_names = {
        pid: next(r for r in resources if r["resourceType"] == "Patient")["name"][0]
        for pid, resources in fixture_patients().items()
    }
    keys = [
        (first_names[p["id"]]["family"].lower(), first_names[p["id"]]["given"][0].lower())
        for p in listed
    ]
    assert keys == sorted(keys)
    assert all(p["name"] and p["birth_date"] for p in listed)


def test_ask_returns_the_cited_contract_and_its_chart(api: httpx.Client) -> None:
    patient = hba1c_patient()
    truth = hba1c_results(fixture_patients()[patient])
    response = api.post(f"/patients/{patient}/ask", json={"question": "Show the HbA1c trend"})
    assert response.status_code == 200, response.text
    answer = AnswerOut.model_validate(response.json())
    assert answer.patient_id == patient and answer.model == "none" and answer.thread_id
    cited = set(CITATION.findall(answer.answer))
    assert len(cited) >= 3 and cited <= set(truth)
    assert all(c.verified for c in answer.citations)
    assert answer.disclaimer == DISCLAIMER
    (series,) = answer.series
    assert series.unit == "%" and len(series.points) >= 3
    assert {p.reference: p.value for p in series.points} == {r: truth[r] for r in cited}
    dates = [p.date for p in series.points]
    assert dates == sorted(dates)


def test_follow_up_in_the_same_thread_uses_the_earlier_answer(api: httpx.Client) -> None:
    patient, food = _food_allergy_patient()
    first = api.post(f"/patients/{patient}/ask", json={"question": "Any allergies?"}).json()
    follow_up = api.post(
        f"/patients/{patient}/ask",
        json={"question": "which of those are food?", "thread_id": first["thread_id"]},
    )
    assert follow_up.status_code == 200, follow_up.text
    second = AnswerOut.model_validate(follow_up.json())
    assert second.thread_id == first["thread_id"]
    assert second.steps == []  # answered from the thread's evidence, no new lookups
    assert set(CITATION.findall(second.answer)) == food


def test_stream_events_come_in_order_and_end_with_done(api: httpx.Client) -> None:
    patient = hba1c_patient()
    with api.stream(
        "POST", f"/patients/{patient}/ask/stream", json={"question": "Show the HbA1c trend"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = response.read().decode()
    events = sse_events(body)
    names = [name for name, _ in events]
    assert names[-1] == "done" and names.count("done") == 1 and "error" not in names
    steps = [data["type"] for name, data in events if name == "step"]
    assert steps[0] == "planning"
    assert steps.index("tool_call") < steps.index("evidence")
    assert set(names[:-1]) <= {"step", "token"}
    done = AnswerOut.model_validate(events[-1][1])
    assert done.series and set(CITATION.findall(done.answer)) <= set(
        hba1c_results(fixture_patients()[patient])
    )


def test_stream_follow_up_continues_the_thread(api: httpx.Client) -> None:
    patient = hba1c_patient()
    first = api.post(f"/patients/{patient}/ask", json={"question": "Show the HbA1c trend"})
    thread = first.json()["thread_id"]
    body = api.post(
        f"/patients/{patient}/ask/stream",
        json={"question": "what was the first of those?", "thread_id": thread},
    ).text
    name, data = sse_events(body)[-1]
    assert name == "done" and data["thread_id"] == thread


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/patients/no-such-patient/ask"),
        ("POST", "/patients/no-such-patient/ask/stream"),
        ("GET", "/patients/no-such-patient/summary"),
    ],
)
def test_unknown_patient_is_a_404_with_a_json_error(
    api: httpx.Client, method: str, path: str
) -> None:
    response = api.request(method, path, json={"question": "Any allergies?"})
    assert response.status_code == 404
    assert response.json()["kind"] == "unknown_patient"
    assert "GET /patients" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"question": ""},
        {"question": "   "},
        {"question": "x" * 2001},
        {"question": 42},
        {"question": "Any allergies?", "thread_id": "../../etc"},
        {"question": "Any allergies?", "thread_id": "t" * 200},
    ],
)
def test_malformed_request_is_a_422(api: httpx.Client, body: dict[str, object]) -> None:
    patient = hba1c_patient()
    for suffix in ("ask", "ask/stream"):
        response = api.post(f"/patients/{patient}/{suffix}", json=body)
        assert response.status_code == 422, (suffix, body, response.text)
        assert response.json()["detail"][0]["loc"][0] == "body"


def test_non_json_body_and_bad_patient_id_are_422(api: httpx.Client) -> None:
    patient = hba1c_patient()
    response = api.post(f"/patients/{patient}/ask", content=b"not json")
    assert response.status_code == 422
    assert api.post("/patients/bad id!/ask", json={"question": "x"}).status_code == 422


def test_thread_of_another_patient_is_a_409(api: httpx.Client) -> None:
    first, second = sorted(fixture_patients())[:2]
    thread = api.post(f"/patients/{first}/ask", json={"question": "Any allergies?"}).json()
    response = api.post(
        f"/patients/{second}/ask",
        json={"question": "which of those are food?", "thread_id": thread["thread_id"]},
    )
    assert response.status_code == 409 and response.json()["kind"] == "thread_conflict"


def test_summary_is_cited_to_the_patients_own_resources(api: httpx.Client) -> None:
    patient = hba1c_patient()
    response = api.get(f"/patients/{patient}/summary", params={"max_tokens": 1024})
    assert response.status_code == 200
    summary = SummaryOutput.model_validate(response.json())
    own = {f"{r['resourceType']}/{r['id']}" for r in fixture_patients()[patient]}
    references = {ref for s in summary.sections for i in s.items for ref in i.references}
    assert references and references <= own
    assert summary.patient_id == patient and not summary.tokens > 1024 * 1.1


def test_fhir_facade_serves_cited_resources_read_only(api: httpx.Client) -> None:
    patient = hba1c_patient()
    reference = next(iter(hba1c_results(fixture_patients()[patient])))
    response = api.get(f"/fhir/{reference}")
    assert response.status_code == 200
    assert f"{response.json()['resourceType']}/{response.json()['id']}" == reference
    assert api.delete(f"/fhir/{reference}").status_code == 405
    assert api.get(f"/fhir/{reference}").status_code == 200


def test_openapi_documents_every_endpoint(api: httpx.Client) -> None:
    schema = api.get("/openapi.json").json()
    assert {
        "/patients",
        "/patients/{patient_id}/summary",
        "/patients/{patient_id}/ask",
        "/patients/{patient_id}/ask/stream",
    } <= set(schema["paths"])
    ask = schema["paths"]["/patients/{patient_id}/ask"]["post"]
    assert {"404", "409", "422"} <= set(ask["responses"])
    assert api.get("/docs").status_code == 200


def test_health_names_the_model_and_source(api: httpx.Client) -> None:
    health = api.get("/health").json()
    assert health["status"] == "ok" and health["model"] == "none"
    assert health["fhir"].startswith("embedded store")
