"""The agent against a faulty FHIR server: bounded retries, then an honest answer.

Issue 7: timeouts, 5xx, 429, a connection reset mid-paging, invalid JSON, an HTML error
page and an OperationOutcome must be retried within bounds, then end in a clear error;
the agent answers with what it has, says what it could not retrieve, and never claims a
record is absent when the search for it failed.

The faults are injected by a transport in front of the real embedded FHIR app, so every
request that is not faulted is answered by the real server, and the client's real retry
and paging code runs.  ``sleep`` is a recorder: no test waits, and the waits the client
asked for are asserted.  Patient A has no allergies at all, which makes "no allergies
recorded" the exact lie a failed allergy search must not turn into.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from agent import AgentOutput
from agent.extractive import FALLBACK_NOTE
from agent.models.base import ChatModel
from agent.models.scripted import ScriptedModel
from fhir_client import FhirClient
from fhir_client.embedded import EMBEDDED_BASE_URL, embedded_asgi_app
from tests.support.agent_ask import ask_agent
from tests.support.injection_cases import World, build_world

MAX_RETRIES = 3
ALLERGIES = "Does the patient have any allergies?"
PROCEDURES = "What procedures has she had?"
BOTH = "What allergies and procedures does she have?"
FailedAbsence = re.compile(
    r"\bno (?:active |known )?(?:allerg|procedure)|none (?:are )?recorded|not found"
    r"|\bno\b[^.\n]*\b(?:are|is) recorded",
    re.IGNORECASE,
)

Fault = Callable[[httpx.Request, int], httpx.Response | None]
"""(request, how many requests of the target type so far) -> a response, None to pass
the request to the real server, or raise an httpx transport error."""


class FaultyTransport(httpx.AsyncBaseTransport):
    """The embedded FHIR app, with ``fault`` applied to requests for ``target`` resources.

    ``page_size`` rewrites ``_count`` on those requests, as a server that caps page sizes
    would, so a search pages and a fault can hit the second page.
    """

    def __init__(
        self, world: World, target: str, fault: Fault, *, page_size: int | None = None
    ) -> None:
        self.inner = httpx.ASGITransport(app=embedded_asgi_app(world.store))
        self.target = target
        self.fault = fault
        self.page_size = page_size
        self.urls: list[str] = []
        self.target_urls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        if urlsplit(str(request.url)).path.split("/")[2] == self.target:
            if self.page_size is not None:
                request = _with_count(request, self.page_size)
            self.target_urls.append(str(request.url))
            response = self.fault(request, len(self.target_urls))
            if response is not None:
                return response
        return await self.inner.handle_async_request(request)


def _with_count(request: httpx.Request, count: int) -> httpx.Request:
    query = [(k, v) for k, v in parse_qsl(request.url.query.decode()) if k != "_count"]
    url = request.url.copy_with(query=urlencode([*query, ("_count", str(count))]).encode())
    return httpx.Request(request.method, url, headers=request.headers)


# --------------------------------------------------------------------------- faults


def read_timeout(request: httpx.Request, n: int) -> httpx.Response | None:
    raise httpx.ReadTimeout("timed out waiting for the server", request=request)


def status(code: int, *, times: int | None = None, **kwargs: Any) -> Fault:
    """Answer ``code`` to the first ``times`` requests (all when None)."""

    def fault(request: httpx.Request, n: int) -> httpx.Response | None:
        if times is not None and n > times:
            return None
        return httpx.Response(code, request=request, **kwargs)

    return fault


def reset_after_first_page(times: int | None = None) -> Fault:
    """The first page is served; later requests lose the connection (``times`` of them)."""

    def fault(request: httpx.Request, n: int) -> httpx.Response | None:
        if n == 1 or (times is not None and n > 1 + times):
            return None
        raise httpx.RemoteProtocolError("peer closed connection mid-response", request=request)

    return fault


HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
)
OUTCOME_400 = {
    "resourceType": "OperationOutcome",
    "issue": [
        {
            "severity": "error",
            "code": "invalid",
            "diagnostics": "Unknown search parameter 'clinical-status' for AllergyIntolerance",
        }
    ],
}


@dataclass(frozen=True)
class FaultCase:
    id: str
    target: str
    question: str
    fault: Fault
    requests: int  # requests of the target type the client must make, retries included
    sleeps: int  # waits between retries
    fails: bool  # the tool's search ends in an error
    page_size: int | None = None
    message: str = ""  # a word the error must contain


FAULTS = (
    FaultCase(
        "read_timeout",
        "AllergyIntolerance",
        ALLERGIES,
        read_timeout,
        4,
        3,
        True,
        message="ReadTimeout",
    ),
    FaultCase("503_then_ok", "AllergyIntolerance", ALLERGIES, status(503, times=1), 2, 1, False),
    FaultCase(
        "503_always", "AllergyIntolerance", ALLERGIES, status(503), 4, 3, True, message="503"
    ),
    FaultCase(
        "429_retry_after_then_ok",
        "AllergyIntolerance",
        ALLERGIES,
        status(429, times=1, headers={"Retry-After": "7"}),
        2,
        1,
        False,
    ),
    FaultCase(
        "429_retry_after_too_long",
        "AllergyIntolerance",
        ALLERGIES,
        status(429, headers={"Retry-After": "3600"}),
        1,
        0,
        True,
        message="3600",
    ),
    FaultCase(
        "reset_mid_paging",
        "Procedure",
        PROCEDURES,
        reset_after_first_page(),
        5,
        3,
        True,
        page_size=5,
        message="RemoteProtocolError",
    ),
    FaultCase(
        "reset_once_mid_paging",
        "Procedure",
        PROCEDURES,
        reset_after_first_page(times=1),
        0,  # checked against the fault-free run instead: one extra request
        1,
        False,
        page_size=5,
    ),
    FaultCase(
        "invalid_json",
        "AllergyIntolerance",
        ALLERGIES,
        status(
            200,
            content=b'{"resourceType": "Bundle", "entry": [',
            headers={"Content-Type": "application/fhir+json"},
        ),
        1,
        0,
        True,
        message="JSON",
    ),
    FaultCase(
        "html_502",
        "AllergyIntolerance",
        ALLERGIES,
        status(502, content=HTML_502, headers={"Content-Type": "text/html"}),
        4,
        3,
        True,
        message="502",
    ),
    FaultCase(
        "operation_outcome_400",
        "AllergyIntolerance",
        ALLERGIES,
        status(
            400,
            content=json.dumps(OUTCOME_400).encode(),
            headers={"Content-Type": "application/fhir+json"},
        ),
        1,
        0,
        True,
        message="Unknown search parameter",
    ),
)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    built = build_world()
    yield built
    built.store.close()


@dataclass
class Run:
    output: AgentOutput
    transport: FaultyTransport
    sleeps: list[float]


async def run(
    world: World,
    question: str,
    transport: FaultyTransport,
    model: ChatModel | None = None,
) -> Run:
    sleeps: list[float] = []

    async def record_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with FhirClient(
        EMBEDDED_BASE_URL, transport=transport, sleep=record_sleep, max_retries=MAX_RETRIES
    ) as client:
        output = await ask_agent(client, world.a_id, question, model)
    return Run(output, transport, sleeps)


def healthy(world: World, target: str, page_size: int | None = None) -> FaultyTransport:
    return FaultyTransport(world, target, lambda request, n: None, page_size=page_size)


def tool_of(target: str) -> str:
    return {"AllergyIntolerance": "allergies", "Procedure": "procedures"}[target]


def assert_honest_about(output: AgentOutput, tool: str) -> None:
    """The answer names what failed and never reads the failure as 'nothing recorded'."""
    AgentOutput.model_validate_json(output.model_dump_json())
    failed = [s for s in output.steps if s.node == "act" and s.tool == tool]
    assert failed and all(s.error for s in failed), output.steps
    assert f"The {tool} could not be retrieved" in output.answer, output.answer
    assert "does not mean there is none" in output.answer
    assert not FailedAbsence.search(output.answer), output.answer


# --------------------------------------------------------------------------- rule path


@pytest.mark.parametrize("case", FAULTS, ids=[f.id for f in FAULTS])
async def test_fault_is_retried_within_bounds_then_answered_honestly(
    world: World, case: FaultCase
) -> None:
    baseline = await run(world, case.question, healthy(world, case.target, case.page_size))
    faulty = FaultyTransport(world, case.target, case.fault, page_size=case.page_size)
    result = await run(world, case.question, faulty)
    output = result.output
    expected = case.requests or len(baseline.transport.target_urls) + case.sleeps
    assert len(faulty.target_urls) == expected, faulty.target_urls
    assert len(result.sleeps) == case.sleeps and all(0 <= s <= 60 for s in result.sleeps)
    if not case.fails:
        assert output.answer == baseline.output.answer
        assert [s.error for s in output.steps] == [None] * len(output.steps)
        return
    assert_honest_about(output, tool_of(case.target))
    step = next(s for s in output.steps if s.tool == tool_of(case.target))
    assert case.message in (step.error or ""), step.error
    assert "<html" not in output.answer.lower()  # the error page is summarised, not pasted


async def test_retry_after_is_the_wait_the_client_takes(world: World) -> None:
    case = next(f for f in FAULTS if f.id == "429_retry_after_then_ok")
    result = await run(world, case.question, FaultyTransport(world, case.target, case.fault))
    assert result.sleeps == [7.0]


async def test_healthy_answer_says_no_allergies_so_the_fault_checks_mean_something(
    world: World,
) -> None:
    """Without a fault the same question *does* say none are recorded (A has none)."""
    result = await run(world, ALLERGIES, healthy(world, "AllergyIntolerance"))
    assert FailedAbsence.search(result.output.answer), result.output.answer


async def test_the_agent_answers_with_what_it_has(world: World) -> None:
    """Allergies fail, procedures succeed: the answer lists the procedures and says so."""
    result = await run(world, BOTH, FaultyTransport(world, "AllergyIntolerance", status(503)))
    output = result.output
    assert_honest_about(output, "allergies")
    procedures = [s for s in output.steps if s.tool == "procedures"]
    assert procedures and procedures[0].error is None and procedures[0].count > 0
    assert "Procedures in the record:" in output.answer
    assert all(c.verified for c in output.citations) and output.citations


# --------------------------------------------------------------------------- model path


@pytest.mark.parametrize("question", [ALLERGIES, BOTH], ids=["only_allergies", "with_procedures"])
async def test_model_cannot_turn_a_failed_search_into_none_recorded(
    world: World, question: str
) -> None:
    def lie(system: str, user: str, schema: dict[str, Any] | None) -> str:
        assert "allergies could not be retrieved" in user  # the prompt did say so
        first = re.search(r"\[(\d+)\]\s*$", user, re.MULTILINE)
        cited = f"She had a procedure [{first.group(1)}]. " if first else ""
        return f"{cited}No allergies are recorded for this patient."

    model = ScriptedModel([lie, lie])
    result = await run(
        world, question, FaultyTransport(world, "AllergyIntolerance", status(503)), model
    )
    output = result.output
    assert not FailedAbsence.search(output.answer), output.answer
    assert output.fallback and output.answer.endswith(FALLBACK_NOTE)
    assert "The allergies could not be retrieved" in output.answer


async def test_model_that_reports_the_failure_is_kept(world: World) -> None:
    """An honest model answer about a failed search passes verification untouched."""

    def honest(system: str, user: str, schema: dict[str, Any] | None) -> str:
        return "The allergy list could not be retrieved from the server, so it is unknown."

    model = ScriptedModel([honest])
    result = await run(
        world, ALLERGIES, FaultyTransport(world, "AllergyIntolerance", status(503)), model
    )
    assert result.output.answer.startswith("The allergy list could not be retrieved")
    assert not result.output.fallback and model.remaining == 0
