"""FhirClient retries: 429 with Retry-After, 5xx, connect errors, and non-idempotent POSTs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from fhir_client._retry import backoff_delay, parse_retry_after
from fhir_client.client import FhirClient
from fhir_client.errors import FhirConnectionError, ServerError, TooManyRequests

BASE = "https://fhir.example.org/r4"
PATIENT = {"resourceType": "Patient", "id": "p1"}
TRANSACTION = {"resourceType": "Bundle", "type": "transaction", "entry": []}


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
def sleep() -> SleepRecorder:
    return SleepRecorder()


def make_client(sleep: SleepRecorder, **kwargs: float) -> FhirClient:
    options = {"max_retries": 3, "backoff_seconds": 0.5, **kwargs}
    return FhirClient(
        BASE,
        sleep=sleep,
        max_retries=int(options["max_retries"]),
        backoff_seconds=options["backoff_seconds"],
    )


def assert_backoff(waits: list[float], base: float) -> None:
    """Each wait is base * 2**n plus at most 10 % jitter."""
    for attempt, wait in enumerate(waits):
        expected = base * 2**attempt
        assert expected <= wait <= expected * 1.1, (attempt, wait)


async def test_429_with_retry_after_waits_that_long(
    router: respx.MockRouter, sleep: SleepRecorder
) -> None:
    route = router.get(f"{BASE}/Patient/p1").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "2"}),
            httpx.Response(200, json=PATIENT),
        ]
    )
    async with make_client(sleep) as fhir:
        assert await fhir.read("Patient", "p1") == PATIENT
    assert route.call_count == 2
    assert sleep.waits == [2.0]


async def test_429_with_http_date_retry_after(
    router: respx.MockRouter, sleep: SleepRecorder
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    router.get(f"{BASE}/Patient/p1").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": when}),
            httpx.Response(200, json=PATIENT),
        ]
    )
    async with make_client(sleep) as fhir:
        await fhir.read("Patient", "p1")
    assert len(sleep.waits) == 1
    assert 8.0 <= sleep.waits[0] <= 10.0


async def test_429_without_retry_after_uses_backoff(
    router: respx.MockRouter, sleep: SleepRecorder
) -> None:
    router.get(f"{BASE}/Patient/p1").mock(
        side_effect=[httpx.Response(429), httpx.Response(429), httpx.Response(200, json=PATIENT)]
    )
    async with make_client(sleep, backoff_seconds=1.0) as fhir:
        await fhir.read("Patient", "p1")
    assert len(sleep.waits) == 2
    assert_backoff(sleep.waits, 1.0)


async def test_retry_after_beyond_cap_raises_too_many_requests(
    router: respx.MockRouter, sleep: SleepRecorder
) -> None:
    route = router.get(f"{BASE}/Patient/p1").respond(429, headers={"Retry-After": "3600"})
    async with make_client(sleep) as fhir:
        with pytest.raises(TooManyRequests, match="wait 3600 s"):
            await fhir.read("Patient", "p1")
    assert route.call_count == 1
    assert sleep.waits == []


async def test_429_retries_exhausted_raises_too_many_requests(
    router: respx.MockRouter, sleep: SleepRecorder
) -> None:
    route = router.get(f"{BASE}/Patient/p1").respond(429, headers={"Retry-After": "1"})
    async with make_client(sleep, max_retries=2) as fhir:
        with pytest.raises(TooManyRequests) as info:
            await fhir.read("Patient", "p1")
    assert info.value.status_code == 429
    assert route.call_count == 3
    assert sleep.waits == [1.0, 1.0]


async def test_503_twice_then_200(router: respx.MockRouter, sleep: SleepRecorder) -> None:
    route = router.get(f"{BASE}/Observation").mock(
        side_effect=[
            httpx.Response(503),
            httpx.Response(503),
            httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset"}),
        ]
    )
    async with make_client(sleep) as fhir:
        assert await fhir.search("Observation") == []
    assert route.call_count == 3
    assert len(sleep.waits) == 2
    assert_backoff(sleep.waits, 0.5)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_retries_exhausted_raise_server_error(
    router: respx.MockRouter, sleep: SleepRecorder, status: int
) -> None:
    route = router.get(f"{BASE}/Patient/p1").respond(
        status, json={"resourceType": "OperationOutcome", "issue": [{"diagnostics": "db down"}]}
    )
    async with make_client(sleep) as fhir:
        with pytest.raises(ServerError) as info:
            await fhir.read("Patient", "p1")
    assert info.value.status_code == status
    assert info.value.diagnostics == "db down"
    assert route.call_count == 4  # first attempt + 3 retries
    assert_backoff(sleep.waits, 0.5)
    assert len(sleep.waits) == 3


async def test_501_is_not_retried(router: respx.MockRouter, sleep: SleepRecorder) -> None:
    route = router.get(f"{BASE}/Patient/p1").respond(501)
    async with make_client(sleep) as fhir:
        with pytest.raises(ServerError):
            await fhir.read("Patient", "p1")
    assert route.call_count == 1


async def test_connect_error_then_success(router: respx.MockRouter, sleep: SleepRecorder) -> None:
    route = router.get(f"{BASE}/Patient/p1").mock(
        side_effect=[httpx.ConnectError("connection refused"), httpx.Response(200, json=PATIENT)]
    )
    async with make_client(sleep) as fhir:
        assert await fhir.read("Patient", "p1") == PATIENT
    assert route.call_count == 2
    assert len(sleep.waits) == 1


async def test_read_timeout_is_retried_for_get(
    router: respx.MockRouter, sleep: SleepRecorder
) -> None:
    route = router.get(f"{BASE}/Patient/p1").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json=PATIENT)]
    )
    async with make_client(sleep) as fhir:
        await fhir.read("Patient", "p1")
    assert route.call_count == 2


async def test_connect_error_always_raises_connection_error(
    router: respx.MockRouter, sleep: SleepRecorder
) -> None:
    route = router.get(f"{BASE}/Patient/p1").mock(side_effect=httpx.ConnectError("refused"))
    async with make_client(sleep, max_retries=2) as fhir:
        with pytest.raises(FhirConnectionError) as info:
            await fhir.read("Patient", "p1")
    assert route.call_count == 3
    message = str(info.value)
    assert "GET Patient/p1" in message
    assert "3 attempt(s)" in message
    assert "ConnectError" in message
    assert_backoff(sleep.waits, 0.5)


async def test_zero_retries_fails_at_once(router: respx.MockRouter, sleep: SleepRecorder) -> None:
    route = router.get(f"{BASE}/Patient/p1").respond(503)
    async with make_client(sleep, max_retries=0) as fhir:
        with pytest.raises(ServerError):
            await fhir.read("Patient", "p1")
    assert route.call_count == 1
    assert sleep.waits == []


async def test_transaction_not_retried_on_500(
    router: respx.MockRouter, sleep: SleepRecorder
) -> None:
    route = router.post(BASE).respond(500)
    async with make_client(sleep) as fhir:
        with pytest.raises(ServerError):
            await fhir.transaction(TRANSACTION)
    assert route.call_count == 1
    assert sleep.waits == []


async def test_transaction_not_retried_on_read_timeout(
    router: respx.MockRouter, sleep: SleepRecorder
) -> None:
    route = router.post(BASE).mock(side_effect=httpx.ReadTimeout("no answer"))
    async with make_client(sleep) as fhir:
        with pytest.raises(FhirConnectionError):
            await fhir.transaction(TRANSACTION)
    assert route.call_count == 1


async def test_transaction_retried_on_503_and_connect_error(
    router: respx.MockRouter, sleep: SleepRecorder
) -> None:
    reply = {"resourceType": "Bundle", "type": "transaction-response"}
    route = router.post(BASE).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(503, headers={"Retry-After": "3"}),
            httpx.Response(200, json=reply),
        ]
    )
    async with make_client(sleep) as fhir:
        assert await fhir.transaction(TRANSACTION) == reply
    assert route.call_count == 3
    assert sleep.waits[1] == 3.0


def test_backoff_grows_exponentially_and_is_capped() -> None:
    assert 0.5 <= backoff_delay(0, 0.5) <= 0.55
    assert 4.0 <= backoff_delay(3, 0.5) <= 4.4
    assert 30.0 <= backoff_delay(20, 0.5) <= 33.0


def test_parse_retry_after_forms() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("5", now=now) == 5.0
    assert parse_retry_after(" 0 ", now=now) == 0.0
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None, now=now) is None
    assert parse_retry_after("-3", now=now) == 0.0
