"""The ehr-agent assistant: one Assistant over the LangGraph graph, models and citations.

From async code (a dashboard backend, the API)::

    from agent import Assistant
    from agent.settings import Settings

    async with Assistant.open(Settings.resolve(), model="none", checkpoint=":memory:") as a:
        output = await a.ask(patient_id, "Latest HbA1c?", thread_id="t1")
        # or: async for event in a.stream(patient_id, question, thread_id="t1")

The graph alone, with your own FHIR client::

    from agent import AgentContext, ask, build_graph, open_checkpointer
    from tools import make_toolset

    async with open_checkpointer(":memory:") as saver:
        graph = build_graph(checkpointer=saver)
        context = AgentContext(toolset=make_toolset(fhir_client, patient_id), model=model)
        output = await ask(graph, context, "Latest HbA1c?", thread_id="t1")

Names are imported on first use (PEP 562), so ``import agent.cli`` or ``agent.settings``
does not import LangGraph, and the core install (no ``agent`` extra) can use them.
Importing this package never imports llama.cpp (see :mod:`agent.models`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fhir_client._lazy import lazy_attributes

if TYPE_CHECKING:
    from agent.assistant import Assistant
    from agent.checkpoints import open_checkpointer
    from agent.configuration import AgentContext, Configuration, RunContext
    from agent.events import AgentEvent, ask, new_thread_id, stream_answer
    from agent.graph import AgentGraph, build_graph
    from agent.output import AgentOutput

_EXPORTS = {
    "AgentContext": "agent.configuration",
    "AgentEvent": "agent.events",
    "AgentGraph": "agent.graph",
    "AgentOutput": "agent.output",
    "Assistant": "agent.assistant",
    "Configuration": "agent.configuration",
    "RunContext": "agent.configuration",
    "ask": "agent.events",
    "build_graph": "agent.graph",
    "new_thread_id": "agent.events",
    "open_checkpointer": "agent.checkpoints",
    "stream_answer": "agent.events",
}

__all__ = [
    "AgentContext",
    "AgentEvent",
    "AgentGraph",
    "AgentOutput",
    "Assistant",
    "Configuration",
    "RunContext",
    "ask",
    "build_graph",
    "new_thread_id",
    "open_checkpointer",
    "stream_answer",
]


__getattr__ = lazy_attributes(__name__, _EXPORTS)
