"""The generic request observer on FhirClient, and filing requests under their question."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from agent.audit import AuditLog, attach, audited_question
from fhir_client.auth import BearerTokenAuth
from fhir_client.client import FhirClient
from fhir_client.errors import FhirConnectionError, ResourceNotFound
from fhir_client.observe import RequestObservation

BASE = "https://fhir.example.org/r4"
SECRET = "s3cr3t-bearer-value"
BUNDLE = {
    "resourceType": "Bundle",
    "type": "searchset",
    "entry": [
        {"resource": {"resourceType": "Observation", "id": "o1"}, "search": {"mode": "match"}},
        {"resource": {"resourceType": "Observation", "id": "o2"}, "search": {"mode": "match"}},
        {"resource": {"resourceType": "Patient", "id": "p1"}, "search": {"mode": "include"}},
    ],
}


def _handler(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/Observation"):
        return httpx.Response(200, json=BUNDLE)
    if request.url.path.endswith("/Patient/p1"):
        return httpx.Response(200, json={"resourceType": "Patient", "id": "p1"})
    if request.url.path.endswith("/Condition"):
        raise httpx.ConnectError("refused", request=request)
    return httpx.Response(404, json={"resourceType": "OperationOutcome", "issue": []})


def _client() -> FhirClient:
    return FhirClient(
        BASE,
        auth=BearerTokenAuth(SECRET),
        transport=httpx.MockTransport(_handler),
        max_retries=0,
    )


async def _exercise(client: FhirClient) -> None:
    await client.search("Observation", {"patient": "p1", "code": "4548-4"})
    await client.read("Patient", "p1")
    with pytest.raises(ResourceNotFound):
        await client.read("Patient", "nobody")
    with pytest.raises(FhirConnectionError):
        await client.search("Condition", {"patient": "p1"})


def test_observers_see_every_request_without_credentials() -> None:
    seen: list[RequestObservation] = []

    def broken(_: RequestObservation) -> None:
        raise RuntimeError("an observer bug must not fail the request")

    async def run() -> None:
        async with _client() as client:
            client.add_observer(broken)
            client.add_observer(seen.append)
            await _exercise(client)
            client.remove_observer(seen.append)
            await client.read("Patient", "p1")

    asyncio.run(run())
    assert [(o.method, o.status, o.result_count) for o in seen] == [
        ("GET", 200, 2),  # the included Patient is not a match
        ("GET", 200, 1),
        ("GET", 404, None),
        ("GET", 0, None),  # no HTTP answer at all
    ]
    assert seen[0].path.startswith("Observation?") and "code=4548-4" in seen[0].path
    assert seen[1].path == "Patient/p1" and seen[3].path.startswith("Condition?")
    assert all(BASE not in o.path and SECRET not in repr(o) for o in seen)
    assert all(o.elapsed_ms >= 0 for o in seen)


def test_requests_are_filed_under_their_question_only(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite")

    async def run() -> None:
        async with _client() as client:
            attach(client)
            attach(client)  # idempotent: one record per request
            await client.read("Patient", "p1")  # outside any question: not audited
            async with audited_question(log, "ask", "t1", "p1", "Latest HbA1c?"):
                await client.search("Observation", {"patient": "p1"})
            with pytest.raises(ResourceNotFound):
                async with audited_question(log, "ask", "t2", "p1", "And the chart?"):
                    await client.read("Patient", "nobody")

    try:
        asyncio.run(run())
        first, second = log.entries(patient_id="p1")
    finally:
        log.close()
    assert [(r.path.split("?")[0], r.result_count) for r in first.requests] == [("Observation", 2)]
    assert first.answer.error == "no answer" and first.answer.thread_id == "t1"
    assert second.answer.error == "ResourceNotFound" and not second.citations
    assert [(r.path, r.status) for r in second.requests] == [("Patient/nobody", 404)]
