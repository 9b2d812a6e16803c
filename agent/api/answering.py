"""Running one turn for the API: as one JSON answer, or as Server-Sent Events.

Both paths share the runtime's locks and the same enrichment (chart series), so the
streamed ``done`` event carries exactly what ``POST /ask`` returns.

SSE events: ``step`` (``planning``, ``tool_call``, ``evidence``; the agent event's type
is in the data's ``type``), ``token`` ({text, attempt}; a new attempt replaces the text),
then exactly one of ``done`` (the answer) or ``error`` ({message, kind}), always last,
even when something unexpected fails mid-stream: a client can wait for it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from agent.api.runtime import AgentRuntime, ApiError
from agent.api.schemas import AnswerOut
from agent.api.series import answer_series
from agent.audit import audited_question
from agent.events import ask, stream_answer
from agent.models.base import ModelError
from agent.output import AgentOutput
from agent.threads import ThreadClaim
from fhir_client.errors import FhirError

__all__ = ["answer_events", "answer_question", "sse"]

logger = logging.getLogger(__name__)

_STEP_TYPES = frozenset({"planning", "tool_call", "evidence"})


def sse(event: str, data: dict[str, Any] | str) -> str:
    """One SSE message; the JSON is compact, so it never spans lines."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n"


async def _with_series(runtime: AgentRuntime, output: AgentOutput) -> AnswerOut:
    answer = AnswerOut.model_validate(output.model_dump())
    try:
        answer.series = await answer_series(runtime.client, output)
    except FhirError as error:  # the answer stands without its chart
        answer.notes.append(f"Chart data could not be read: {error}")
    return answer


def _audited(runtime: AgentRuntime, claim: ThreadClaim, question: str) -> Any:
    return audited_question(
        runtime.audit, "api", claim.public_id, claim.patient_id, question, caller=claim.caller
    )


async def answer_question(runtime: AgentRuntime, claim: ThreadClaim, question: str) -> AnswerOut:
    """One answer, with agent failures turned into ``ApiError`` statuses.

    The graph runs under the thread's checkpoint key; the caller sees its own thread id.
    """
    context = runtime.context(claim.patient_id)
    try:
        async with _audited(runtime, claim, question) as turn:
            async with runtime.turn(claim):
                output = await ask(runtime.graph, context, question, thread_id=claim.key)
            output.thread_id = claim.public_id
            turn.answered(output)
            return await _with_series(runtime, output)
    except FhirError as error:
        raise ApiError(
            502, "fhir_error", f"Error talking to the {runtime.source_description}: {error}"
        ) from error
    except ModelError as error:
        raise ApiError(503, "model_error", f"The model failed: {error}") from error
    except ValueError as error:
        raise ApiError(400, "bad_question", str(error)) from error


async def answer_events(
    runtime: AgentRuntime, claim: ThreadClaim, question: str
) -> AsyncIterator[str]:
    """The SSE stream of one turn (see the module doc for the events)."""
    try:
        context = runtime.context(claim.patient_id)
        async with _audited(runtime, claim, question) as turn, runtime.turn(claim):
            events = stream_answer(runtime.graph, context, question, thread_id=claim.key)
            async for event in events:
                if event.type == "done":
                    output = AgentOutput.model_validate(event.data["output"])
                    output.thread_id = claim.public_id
                    turn.answered(output)
                    answer = await _with_series(runtime, output)
                    yield sse("done", answer.model_dump_json())
                    return
                if event.type == "error":
                    turn.failed(str(event.data.get("kind", "error")))
                    yield sse("error", event.data)
                    return
                if event.type == "token":
                    yield sse("token", event.data)
                elif event.type in _STEP_TYPES:
                    yield sse("step", {"type": event.type, **event.data})
    except ApiError as error:  # e.g. the thread stayed busy
        yield sse("error", {"message": error.detail, "kind": error.kind})
        return
    except Exception as error:  # the stream's contract: it always ends with done or error
        logger.exception("answer stream failed")
        yield sse("error", {"message": f"The answer failed: {error}", "kind": type(error).__name__})
        return
    yield sse("error", {"message": "the agent stopped without an answer", "kind": "Incomplete"})
