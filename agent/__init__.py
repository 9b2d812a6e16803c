"""The ehr-agent assistant: LangGraph graph, model backends, citations and the CLI.

From async code (a dashboard backend, the API)::

    from agent import AgentContext, ask, build_graph, open_checkpointer
    from tools import make_toolset

    async with open_checkpointer(":memory:") as saver:
        graph = build_graph(checkpointer=saver)
        context = AgentContext(toolset=make_toolset(fhir_client, patient_id), model=model)
        output = await ask(graph, context, "Latest HbA1c?", thread_id="t1")
        # or: async for event in stream_answer(graph, context, question, thread_id="t1")

Importing this package does not import llama.cpp (see :mod:`agent.models`).
"""

from agent.checkpoints import open_checkpointer
from agent.configuration import AgentContext, Configuration
from agent.events import AgentEvent, ask, new_thread_id, stream_answer
from agent.graph import AgentGraph, build_graph
from agent.output import AgentOutput

__all__ = [
    "AgentContext",
    "AgentEvent",
    "AgentGraph",
    "AgentOutput",
    "Configuration",
    "ask",
    "build_graph",
    "new_thread_id",
    "open_checkpointer",
    "stream_answer",
]
