"""The real answerer: the Assistant over a FHIR client, behind the replay's Protocol.

Kept apart from the runner so the harness (and its tests) never import LangGraph or a
model backend; only the CLI builds this.  Each question is a fresh thread, so no answer
can lean on an earlier question's evidence.
"""

from __future__ import annotations

from typing import Any

from agent.assistant import Assistant
from agent.graph import AgentGraph, build_graph
from agent.models.base import ChatModel
from fhir_client.client import FhirClient

__all__ = ["AgentAnswerer"]


class AgentAnswerer:
    """Answers with the project's agent; ``model=None`` is the rule-based path.

    ``graph`` is one compiled with a checkpointer when the replay's threads should be
    kept (``replay --checkpoint-db``); by default none is kept.  ``configurable`` sets
    the run's knobs (:class:`agent.configuration.Configuration`: token budgets, context
    window), e.g. a small answer budget for a quick run on a CPU.
    """

    def __init__(
        self,
        client: FhirClient,
        model: ChatModel | None,
        graph: AgentGraph | None = None,
        *,
        configurable: dict[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.configurable = configurable
        self.assistant = Assistant(client, graph or build_graph(), model=model)

    async def __call__(self, patient_id: str, question: str) -> dict[str, Any]:
        # The replay checked its patients when it planned; no audit: these are test runs.
        output = await self.assistant.ask(
            patient_id, question, check=False, configurable=self.configurable
        )
        return output.model_dump()
