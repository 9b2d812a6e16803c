"""The SSE stream's contract when the agent fails: ``error`` is the last event.

A graph that breaks mid-run cannot be produced from the real fixtures, so this drives
``answer_events`` with a graph stub that emits one step and then raises.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, cast

from agent.api.answering import answer_events, sse
from agent.assistant import Assistant
from agent.graph import AgentGraph
from agent.threads import ThreadClaim, open_thread_registry
from fhir_client.client import FhirClient
from tests.support.api_server import sse_events


class _BreakingGraph:
    async def astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[tuple[str, Any]]:
        yield "custom", {"type": "planning", "route": "rules", "calls": []}
        raise RuntimeError("disk full")


async def _collect(runtime: Assistant, claim: ThreadClaim) -> list[tuple[str, Any]]:
    chunks = [event.encode() async for event in answer_events(runtime, claim, "Any allergies?")]
    return sse_events(b"".join(chunks).decode())


async def test_unexpected_failure_ends_the_stream_with_error() -> None:
    async with (
        FhirClient("http://127.0.0.1:9/fhir") as client,
        open_thread_registry(":memory:") as threads,
    ):
        graph = cast(AgentGraph, _BreakingGraph())
        runtime = Assistant(
            client=client, graph=graph, model=None, source_description="x", threads=threads
        )
        claim = await threads.claim("anonymous", "t1", "p1")
        events = await _collect(runtime, claim)
    assert [name for name, _ in events] == ["step", "error"]
    assert events[0][1]["type"] == "planning"
    assert "disk full" in events[-1][1]["message"]


def test_sse_messages_are_single_line_json() -> None:
    message = sse("token", {"text": "line one\nline two"}).encode().decode()
    assert message.count("\n") == 3 and message.endswith("\n\n")
    assert json.loads(message.split("data: ", 1)[1]) == {"text": "line one\nline two"}
