"""The graph as LangGraph's own server runs it (``langgraph.json`` -> ``make_graph``).

Why a wrapper graph rather than ``build_graph()`` itself: our graph's context holds live
objects (the patient's toolset over an open FHIR client, a loaded model), while a LangGraph
server run can only send JSON.  So the served graph takes a JSON context,
``{"patient_id": "...", "model": "none"}`` (:class:`ServerContext`), and its one node
opens the record as the CLI would (``EHR_AGENT_DB`` / ``EHR_AGENT_FHIR_URL``), loads the
model once per process, and runs the real agent graph, forwarding its step events to the
server's ``custom`` stream.

Threads: the agent's own state (evidence, aliases, earlier turns) lives in our
checkpointer (``EHR_AGENT_THREADS_DB``, default the per-user ``threads.sqlite``) keyed by
the server's thread id, so follow-ups on a LangGraph thread work; the server's own
checkpointer keeps the wrapper's small state (question, answer, output).  The inner run
gets a fresh ``contextvars`` context so LangGraph does not treat it as a subgraph of the
wrapper (which would key its checkpoints by the wrapper's task, forgetting every turn).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypedDict

from langgraph.config import get_config, get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from agent.checkpoints import open_checkpointer
from agent.cli.fhir_source import open_fhir_client
from agent.configuration import AgentContext
from agent.events import AgentEvent, new_thread_id, stream_answer
from agent.graph import build_graph
from agent.models.base import ChatModel
from agent.models.spec import load_model
from agent.settings import Settings
from tools import make_toolset

__all__ = ["ENV_THREADS_DB", "ServerContext", "ServerState", "make_graph"]

ENV_THREADS_DB = "EHR_AGENT_THREADS_DB"


@dataclass(frozen=True)
class ServerContext:
    """The JSON context of a LangGraph server run: which patient, which model."""

    patient_id: str
    model: str = "none"


class ServerState(TypedDict, total=False):
    question: str
    answer: str
    output: dict[str, Any]
    error: str


@functools.cache
def _model(spec: str) -> ChatModel | None:
    """Load each model once per server process (a GGUF takes seconds and gigabytes)."""
    return load_model(spec)


async def _agent_events(
    context: ServerContext, question: str, thread_id: str
) -> AsyncIterator[AgentEvent]:
    settings = Settings.resolve()
    async with (
        open_fhir_client(settings) as client,
        open_checkpointer(os.environ.get(ENV_THREADS_DB) or None) as saver,
    ):
        agent_context = AgentContext(
            toolset=make_toolset(client, context.patient_id), model=_model(context.model)
        )
        graph = build_graph(checkpointer=saver)
        async for event in stream_answer(graph, agent_context, question, thread_id=thread_id):
            yield event


async def _run(context: ServerContext, question: str, thread_id: str) -> ServerState:
    """Run the agent in a fresh context, relaying its events to this node's stream."""
    writer = get_stream_writer()
    queue: asyncio.Queue[AgentEvent | None] = asyncio.Queue()

    async def produce() -> None:
        try:
            async for event in _agent_events(context, question, thread_id):
                await queue.put(event)
        finally:
            await queue.put(None)

    task = asyncio.create_task(produce(), context=contextvars.Context())
    result: ServerState = {"error": "the agent stopped without an answer"}
    while (event := await queue.get()) is not None:
        writer({"type": event.type, **event.data})
        if event.type == "done":
            output: dict[str, Any] = event.data["output"]
            result = {"answer": output["answer"], "output": output}
        elif event.type == "error":
            result = {"error": str(event.data.get("message", "the agent failed"))}
    await task  # re-raises what the agent raised outside its error events
    return result


async def answer_with_record(state: ServerState, runtime: Runtime[ServerContext]) -> ServerState:
    """Run the agent for this run's patient and question (see the module doc)."""
    if runtime.context is None:
        raise ValueError(
            'this graph needs a run context such as {"patient_id": "<Patient id>", "model": "none"}'
        )
    configurable = get_config().get("configurable") or {}
    thread_id = str(configurable.get("thread_id") or new_thread_id())
    return await _run(runtime.context, state.get("question", ""), thread_id)


def make_graph() -> CompiledStateGraph[ServerState, ServerContext, Any, Any]:
    """The compiled wrapper graph (no checkpointer: the LangGraph server supplies one)."""
    graph = StateGraph(ServerState, context_schema=ServerContext)
    graph.add_node("answer_with_record", answer_with_record)
    graph.add_edge(START, "answer_with_record")
    graph.add_edge("answer_with_record", END)
    return graph.compile(name="ehr-agent-server")
