"""Running one turn for the API: as one JSON answer, or as Server-Sent Events.

Both paths are the Assistant's ``ask`` and ``stream`` (its locks, its audit) plus the same
enrichment (chart series), so the streamed ``done`` event carries exactly what
``POST /ask`` returns.

SSE events: ``step`` (``planning``, ``tool_call``, ``evidence``; the agent event's type
is in the data's ``type``), ``token`` ({text, attempt}; a new attempt replaces the text),
then exactly one of ``done`` (the answer) or ``error`` ({message, kind}), always last,
even when something unexpected fails mid-stream: a client can wait for it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, cast

from sse_starlette import ServerSentEvent

from agent.api.runtime import ApiError, api_error
from agent.api.schemas import AnswerOut
from agent.api.series import answer_series
from agent.assistant import Assistant
from agent.models.base import ModelError
from agent.output import AgentOutput
from agent.refusals import AssistantError
from agent.threads import ThreadClaim
from fhir_client.errors import FhirError

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from agent.events import AgentEvent

__all__ = ["SSE_SEPARATOR", "answer_events", "answer_question", "sse"]

logger = logging.getLogger(__name__)

_STEP_TYPES = frozenset({"planning", "tool_call", "evidence"})


SSE_SEPARATOR = "\n"
"""Line ends of the stream: plain ``\n`` (sse-starlette's default is ``\r\n``), which every
SSE parser accepts and the dashboard's splits on."""


def sse(event: str, data: dict[str, Any] | str) -> ServerSentEvent:
    """One SSE message (framed by sse-starlette); the JSON is compact, so it is one line."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return ServerSentEvent(data=payload, event=event, sep=SSE_SEPARATOR)


async def _with_series(runtime: Assistant, output: AgentOutput) -> AnswerOut:
    answer = AnswerOut.model_validate(output.model_dump())
    try:
        answer.series = await answer_series(runtime.client, output)
    except FhirError as error:  # the answer stands without its chart
        answer.notes.append(f"Chart data could not be read: {error}")
    return answer


async def answer_question(runtime: Assistant, claim: ThreadClaim, question: str) -> AnswerOut:
    """One answer on the thread the route claimed, with failures as ``ApiError`` statuses.

    The graph runs under the thread's checkpoint key; the caller sees its own thread id.
    """
    try:
        output = await runtime.ask(
            claim.patient_id, question, channel="api", check=False, claim=claim
        )
        return await _with_series(runtime, output)
    except FhirError as error:
        raise ApiError(
            502, "fhir_error", f"Error talking to the {runtime.source_description}: {error}"
        ) from error
    except ModelError as error:
        raise ApiError(503, "model_error", f"The model failed: {error}") from error
    except AssistantError as error:  # e.g. the thread stayed busy (a ValueError too)
        raise api_error(error) from error
    except ValueError as error:
        raise ApiError(400, "bad_question", str(error)) from error


async def answer_events(
    runtime: Assistant, claim: ThreadClaim, question: str
) -> AsyncIterator[ServerSentEvent]:
    """The SSE stream of one turn (see the module doc for the events)."""
    try:
        # aclosing: the turn's own cleanup (its audit row, its thread lease) runs before
        # the stream ends, not whenever the abandoned generator is garbage-collected.
        stream = runtime.stream(claim.patient_id, question, channel="api", check=False, claim=claim)
        async with aclosing(cast("AsyncGenerator[AgentEvent]", stream)) as events:
            async for event in events:
                if event.type == "done":
                    output = AgentOutput.model_validate(event.data["output"])
                    answer = await _with_series(runtime, output)
                    yield sse("done", answer.model_dump_json())
                    return
                if event.type == "error":
                    yield sse("error", event.data)
                    return
                if event.type == "token":
                    yield sse("token", event.data)
                elif event.type in _STEP_TYPES:
                    yield sse("step", {"type": event.type, **event.data})
    except AssistantError as error:  # e.g. the thread stayed busy
        refusal = api_error(error)
        yield sse("error", {"message": refusal.detail, "kind": refusal.kind})
        return
    except Exception as error:  # the stream's contract: it always ends with done or error
        logger.exception("answer stream failed")
        yield sse("error", {"message": f"The answer failed: {error}", "kind": type(error).__name__})
        return
    yield sse("error", {"message": "the agent stopped without an answer", "kind": "Incomplete"})
