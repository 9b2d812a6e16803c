"""FhirClient error mapping: OperationOutcome text, HTML error pages, bad bodies, writes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx

from fhir_client.client import FhirClient
from fhir_client.errors import (
    AuthenticationFailed,
    FhirHttpError,
    InvalidRequest,
    InvalidResponse,
    ResourceNotFound,
    ServerError,
    outcome_diagnostics,
)

BASE = "http://localhost:8080/fhir"


def outcome(*issues: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": list(issues)}


class SleepRecorder:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


@pytest.fixture
async def client() -> AsyncIterator[FhirClient]:
    async with FhirClient(BASE, max_retries=2, sleep=SleepRecorder()) as fhir:
        yield fhir


async def test_read_sends_fhir_accept_header(router: respx.MockRouter, client: FhirClient) -> None:
    route = router.get(f"{BASE}/Patient/p-1.2").respond(
        200, json={"resourceType": "Patient", "id": "p-1.2"}
    )
    patient = await client.read("Patient", "p-1.2")
    assert patient == {"resourceType": "Patient", "id": "p-1.2"}
    assert route.calls[0].request.headers["Accept"] == "application/fhir+json"


async def test_read_404_raises_not_found_with_diagnostics(
    router: respx.MockRouter, client: FhirClient
) -> None:
    router.get(f"{BASE}/Patient/nope").respond(
        404,
        json=outcome(
            {
                "severity": "error",
                "code": "not-found",
                "diagnostics": "HAPI-2001: Resource Patient/nope is not known",
            }
        ),
    )
    with pytest.raises(ResourceNotFound) as info:
        await client.read("Patient", "nope")
    error = info.value
    assert error.status_code == 404
    assert error.diagnostics == "HAPI-2001: Resource Patient/nope is not known"
    assert error.outcome is not None
    assert error.outcome["issue"][0]["code"] == "not-found"
    message = str(error)
    assert "GET Patient/nope" in message
    assert "404" in message
    assert "HAPI-2001" in message


async def test_410_gone_is_not_found(router: respx.MockRouter, client: FhirClient) -> None:
    router.get(f"{BASE}/Patient/gone").respond(410, json=outcome({"code": "deleted"}))
    with pytest.raises(ResourceNotFound) as info:
        await client.read("Patient", "gone")
    assert info.value.status_code == 410


async def test_400_outcome_is_invalid_request_with_details_text(
    router: respx.MockRouter, client: FhirClient
) -> None:
    route = router.get(f"{BASE}/Observation").respond(
        400,
        json=outcome(
            {
                "severity": "error",
                "code": "invalid",
                "details": {"text": "Unknown parameter 'foo'"},
            },
            {"severity": "error", "code": "invalid", "diagnostics": "Try 'code' instead"},
        ),
    )
    with pytest.raises(InvalidRequest) as info:
        await client.search("Observation", {"foo": "bar", "patient": "secret-ish"})
    assert info.value.diagnostics == "Unknown parameter 'foo'; Try 'code' instead"
    assert route.call_count == 1  # a 400 is not retried
    # The query string (which can hold patient identifiers) is not part of the message.
    assert "secret-ish" not in str(info.value)
    assert str(info.value).startswith("GET Observation failed with HTTP 400")


async def test_422_is_invalid_request(router: respx.MockRouter, client: FhirClient) -> None:
    router.put(f"{BASE}/Patient/p1").respond(
        422, json=outcome({"code": "processing", "diagnostics": "birthDate is malformed"})
    )
    with pytest.raises(InvalidRequest, match="birthDate is malformed"):
        await client.update({"resourceType": "Patient", "id": "p1", "birthDate": "x"})


@pytest.mark.parametrize("status", [401, 403])
async def test_401_403_are_authentication_failed(
    router: respx.MockRouter, client: FhirClient, status: int
) -> None:
    router.get(f"{BASE}/Patient/p1").respond(status, text="denied")
    with pytest.raises(AuthenticationFailed) as info:
        await client.read("Patient", "p1")
    assert info.value.status_code == status
    assert info.value.outcome is None
    assert info.value.diagnostics == "denied"


async def test_html_502_after_retries_is_server_error_with_snippet(
    router: respx.MockRouter,
) -> None:
    page = (
        "<html><head><title>502 Bad Gateway</title><style>body{color:red}</style></head>"
        "<body><h1>Bad Gateway</h1><p>upstream   connect error</p></body></html>"
    )
    route = router.get(f"{BASE}/Patient/p1").respond(
        502, text=page, headers={"Content-Type": "text/html"}
    )
    sleep = SleepRecorder()
    async with FhirClient(BASE, max_retries=2, sleep=sleep) as fhir:
        with pytest.raises(ServerError) as info:
            await fhir.read("Patient", "p1")
    assert route.call_count == 3
    assert info.value.outcome is None
    assert info.value.diagnostics == "502 Bad Gateway Bad Gateway upstream connect error"
    assert "<" not in str(info.value)
    assert len(sleep.waits) == 2


async def test_long_error_body_is_cut_to_a_snippet(
    router: respx.MockRouter, client: FhirClient
) -> None:
    router.get(f"{BASE}/Patient/p1").respond(400, text="x" * 5000)
    with pytest.raises(InvalidRequest) as info:
        await client.read("Patient", "p1")
    assert len(info.value.diagnostics) <= 210
    assert info.value.diagnostics.endswith("...")


async def test_invalid_json_200_is_invalid_response(
    router: respx.MockRouter, client: FhirClient
) -> None:
    router.get(f"{BASE}/Patient/p1").respond(
        200, text="<html>Login page</html>", headers={"Content-Type": "text/html"}
    )
    with pytest.raises(InvalidResponse) as info:
        await client.read("Patient", "p1")
    assert "not JSON" in str(info.value)
    assert "text/html" in str(info.value)


async def test_json_without_resource_type_is_invalid_response(
    router: respx.MockRouter, client: FhirClient
) -> None:
    router.get(f"{BASE}/metadata").respond(200, json={"status": "ok"})
    with pytest.raises(InvalidResponse, match="no resourceType"):
        await client.capabilities()


async def test_wrong_resource_type_is_invalid_response(
    router: respx.MockRouter, client: FhirClient
) -> None:
    router.get(f"{BASE}/Patient/p1").respond(200, json=outcome({"code": "informational"}))
    with pytest.raises(InvalidResponse, match="OperationOutcome where a Patient"):
        await client.read("Patient", "p1")


async def test_other_4xx_is_generic_http_error(
    router: respx.MockRouter, client: FhirClient
) -> None:
    router.put(f"{BASE}/Patient/p1").respond(
        409, json=outcome({"code": "conflict", "diagnostics": "version conflict"})
    )
    with pytest.raises(FhirHttpError) as info:
        await client.update({"resourceType": "Patient", "id": "p1"})
    assert type(info.value) is FhirHttpError
    assert info.value.status_code == 409
    assert "PUT Patient/p1" in str(info.value)


async def test_update_puts_fhir_json_and_returns_server_version(
    router: respx.MockRouter, client: FhirClient
) -> None:
    stored = {"resourceType": "Patient", "id": "p1", "meta": {"versionId": "2"}}
    route = router.put(f"{BASE}/Patient/p1").respond(200, json=stored)
    sent = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Müller"}]}
    assert await client.update(sent) == stored
    request = route.calls[0].request
    assert request.headers["Content-Type"] == "application/fhir+json"
    assert httpx.Response(200, content=request.content).json() == sent


async def test_update_without_body_returns_sent_resource(
    router: respx.MockRouter, client: FhirClient
) -> None:
    router.put(f"{BASE}/Patient/p1").respond(204)
    sent = {"resourceType": "Patient", "id": "p1"}
    assert await client.update(sent) == sent


async def test_update_validates_id_before_sending(
    router: respx.MockRouter, client: FhirClient
) -> None:
    any_request = router.route()
    with pytest.raises(ValueError):
        await client.update({"resourceType": "Patient", "id": "../Observation/o1"})
    with pytest.raises(ValueError, match="'resourceType' and 'id'"):
        await client.update({"resourceType": "Patient"})
    assert not any_request.called


async def test_transaction_posts_bundle_to_base(
    router: respx.MockRouter, client: FhirClient
) -> None:
    reply = {"resourceType": "Bundle", "type": "transaction-response", "entry": []}
    route = router.post(BASE).respond(200, json=reply)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": []}
    assert await client.transaction(bundle) == reply
    assert route.calls[0].request.headers["Content-Type"] == "application/fhir+json"


async def test_transaction_rejects_non_transaction_bundle(client: FhirClient) -> None:
    with pytest.raises(ValueError, match="'transaction' or 'batch'"):
        await client.transaction({"resourceType": "Bundle", "type": "collection"})


async def test_redirect_is_not_followed(router: respx.MockRouter, client: FhirClient) -> None:
    router.get(f"{BASE}/Patient/p1").respond(
        301, headers={"Location": "https://other.example.org/fhir/Patient/p1"}
    )
    other = router.get(url__startswith="https://other.example.org")
    with pytest.raises(FhirHttpError, match=r"redirects to https://other\.example\.org"):
        await client.read("Patient", "p1")
    assert not other.called


def test_outcome_diagnostics_falls_back_to_coding_display_and_code() -> None:
    text = outcome_diagnostics(
        outcome(
            {"code": "invalid", "details": {"coding": [{"code": "X", "display": "Bad date"}]}},
            {"code": "too-costly"},
        )
    )
    assert text == "Bad date; too-costly"
