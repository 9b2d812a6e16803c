"""The real answerer: the LangGraph agent over a FHIR client, behind the replay's Protocol.

Kept apart from the runner so the harness (and its tests) never import LangGraph or a
model backend; only the CLI builds this.  Each question is a fresh thread with no
checkpointer, so no answer can lean on an earlier question's evidence.
"""

from __future__ import annotations

from typing import Any

from agent.configuration import AgentContext
from agent.events import ask
from agent.graph import build_graph
from agent.models.base import ChatModel
from tools import make_toolset
from tools.scope import FhirSearchClient

__all__ = ["AgentAnswerer"]


class AgentAnswerer:
    """Answers with the project's agent; ``model=None`` is the rule-based path."""

    def __init__(self, client: FhirSearchClient, model: ChatModel | None) -> None:
        self.client = client
        self.model = model
        self.graph = build_graph()

    async def __call__(self, patient_id: str, question: str) -> dict[str, Any]:
        context = AgentContext(toolset=make_toolset(self.client, patient_id), model=self.model)
        output = await ask(self.graph, context, question)
        return output.model_dump()
