"""Running the graph: ``ask`` for one answer, ``stream_answer`` for step events.

Events, in order: ``planning`` (how the turn retrieves), then per tool call
``tool_call`` {tool, arguments} and ``evidence`` {tool, count, error}, ``token`` {text,
attempt} while the model writes (a repair restarts at ``attempt`` 2, so a UI should
replace the text when the attempt changes), and finally ``done`` {output} with the
output contract, or ``error`` {message}.  The REPL and the API consume the same stream.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from langchain_core.runnables import RunnableConfig

from agent.configuration import RunContext
from agent.graph import AgentGraph
from agent.models.base import ModelError
from agent.output import AgentOutput, build_output
from agent.state import AgentState
from fhir_client.errors import FhirError

__all__ = ["AgentEvent", "EventType", "ask", "new_thread_id", "stream_answer"]

EventType = Literal["planning", "tool_call", "evidence", "token", "done", "error"]


@dataclass(frozen=True)
class AgentEvent:
    type: EventType
    data: dict[str, Any] = field(default_factory=dict)


def new_thread_id() -> str:
    return uuid.uuid4().hex


def _config(thread_id: str, overrides: dict[str, Any] | None) -> RunnableConfig:
    return {"configurable": {**(overrides or {}), "thread_id": thread_id}}


def _question(question: str) -> str:
    text = question.strip()
    if not text:
        raise ValueError("the question is empty; ask something about the patient's record")
    return text


async def ask(
    graph: AgentGraph,
    context: RunContext,
    question: str,
    *,
    thread_id: str | None = None,
    configurable: dict[str, Any] | None = None,
) -> AgentOutput:
    """Answer one question (a new turn of ``thread_id``) and return the output contract."""
    thread = thread_id or new_thread_id()
    config = _config(thread, configurable)
    started = time.perf_counter()
    state = cast(
        AgentState,
        await graph.ainvoke({"question": _question(question)}, config, context=context),
    )
    return build_output(
        state,
        model=context.model_name,
        thread_id=thread,
        total_seconds=time.perf_counter() - started,
    )


async def stream_answer(
    graph: AgentGraph,
    context: RunContext,
    question: str,
    *,
    thread_id: str | None = None,
    configurable: dict[str, Any] | None = None,
) -> AsyncIterator[AgentEvent]:
    """Yield step events for one question, ending with ``done`` or ``error``."""
    thread = thread_id or new_thread_id()
    config = _config(thread, configurable)
    started = time.perf_counter()
    final: AgentState | None = None
    try:
        async for mode, chunk in graph.astream(
            {"question": _question(question)},
            config,
            context=context,
            stream_mode=["custom", "values"],
        ):
            if mode == "custom":
                payload = dict(cast(dict[str, Any], chunk))
                kind = payload.pop("type")
                yield AgentEvent(kind, payload)
            else:
                final = cast(AgentState, chunk)
    except (FhirError, ModelError, ValueError) as error:
        yield AgentEvent("error", {"message": str(error), "kind": type(error).__name__})
        return
    if final is None:
        yield AgentEvent("error", {"message": "the graph finished without a state"})
        return
    output = build_output(
        final,
        model=context.model_name,
        thread_id=thread,
        total_seconds=time.perf_counter() - started,
    )
    yield AgentEvent("done", {"output": output.model_dump()})
