"""Ask the agent one question about one patient, as the tests do: a fresh graph, that
patient's toolset, and by default no model (the rule-based planner and extractive answer
every user without a GPU gets).

Why a shared helper: the agent tests each built ``AgentContext(toolset=make_toolset(...),
model=None)`` and ran ``ask(build_graph(), ...)`` in their own copy.  How a test starts a
turn is one fact; it lives here, so a change to the context or the graph's entry point is
made once.  Checks a file adds on top (an answer is never empty, no fallback) stay in that
file, next to the tests whose meaning they are part of.  The FHIR client comes from the
``fhir`` fixture in ``tests/conftest.py`` (or a module's own store).
"""

from __future__ import annotations

from typing import Any, Protocol

from agent import AgentContext, build_graph
from agent.events import ask
from agent.models import ChatModel
from agent.output import AgentOutput
from fhir_client import FhirClient
from tools import make_toolset


class Identified(Protocol):
    """A patient record from either ground-truth reader (tests' or the replay's)."""

    @property
    def id(self) -> str: ...


def agent_context(
    fhir: FhirClient, record: Identified | str, model: ChatModel | None = None
) -> AgentContext:
    """The run context for ``record``'s tools (a record, or a bare patient id as the
    injection and fault worlds hold it); ``model=None`` is the rule path."""
    patient_id = record if isinstance(record, str) else record.id
    return AgentContext(toolset=make_toolset(fhir, patient_id), model=model)


async def ask_agent(
    fhir: FhirClient,
    record: Identified | str,
    question: str,
    model: ChatModel | None = None,
    *,
    configurable: dict[str, Any] | None = None,
) -> AgentOutput:
    """One turn on a new graph and a new thread: the output contract a user gets.

    ``configurable`` is the run's ``config["configurable"]`` (small token budgets for the
    270M GGUF, for instance), passed to ``ask`` unchanged."""
    context = agent_context(fhir, record, model)
    return await ask(build_graph(), context, question, configurable=configurable)


async def ask_unedited(fhir: FhirClient, record: Identified, question: str) -> str:
    """The rule path's answer, checked first to have lost nothing to the verifier: an
    answer composed from the evidence should say only what its citations hold."""
    output = await ask_agent(fhir, record, question)
    assert not [n for n in output.notes if n.startswith("Removed")], output.notes
    return str(output.answer)
