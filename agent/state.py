"""The graph's state: everything a turn needs, and nothing that cannot be checkpointed.

A checkpointer stores this dict after every node, keyed by thread id, so it must be
plain JSON: no FHIR client, no model, no dataclasses.  Those arrive per run through
:class:`agent.configuration.AgentContext`.  Evidence and the alias list persist across
turns so a follow-up can cite what an earlier turn retrieved; per-turn fields (steps,
pending calls, drafts) are reset at the start of each turn (``agent.turn``).

LangGraph owns the growing fields: ``steps``, ``notes`` and ``turns`` are appended to,
``evidence`` merged and ``aliases`` extended by reducers, so a node returns only what it
adds; a turn's start replaces a per-turn list with ``langgraph.types.Overwrite``.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

# typing_extensions' TypedDict, not typing's: pydantic (which derives the JSON schemas
# LangGraph's server shows) refuses typing.TypedDict on Python < 3.12.
from typing_extensions import TypedDict

__all__ = [
    "AgentInput",
    "AgentState",
    "EvidenceRecord",
    "Route",
    "StepRecord",
    "ToolCall",
    "TurnRecord",
    "Usage",
    "empty_usage",
    "extend_aliases",
    "merge_evidence",
]

Route = Literal["rules", "model", "reuse", "decline"]
"""How a turn retrieves: rule-chosen tool calls, model-planned calls, none (reuse), or
none because the question is declined (another person named, a language not read)."""


class ToolCall(TypedDict):
    """One tool call, chosen by the rules or by the model; the patient is never in it."""

    tool: str
    arguments: dict[str, Any]


class StepRecord(TypedDict):
    """One node's work as the output contract's ``steps`` lists it.

    ``result`` is the tool result without raw FHIR (see ``agent.evidence_store``), so the
    extractive answer can be composed again from a checkpoint.
    """

    node: str
    tool: str | None
    arguments: dict[str, Any]
    count: int
    source: str
    error: str | None
    result: dict[str, Any] | None


class EvidenceRecord(TypedDict):
    """One retrieved FHIR resource as one line of clinical text (no citation)."""

    reference: str
    text: str
    date: str | None
    tool: str
    turn: int


class TurnRecord(TypedDict):
    """A finished turn, kept for the digest that follow-ups are resolved against."""

    question: str
    answer: str
    references: list[str]
    cited: list[str]
    calls: list[ToolCall]


class Usage(TypedDict):
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    model_seconds: float


def merge_evidence(
    known: dict[str, EvidenceRecord], new: dict[str, EvidenceRecord]
) -> dict[str, EvidenceRecord]:
    """The thread's evidence with ``new`` records added or replacing theirs."""
    return {**known, **new}


def extend_aliases(known: list[str], new: list[str]) -> list[str]:
    """The alias list with the references not yet in it appended (keys never move)."""
    out, seen = list(known), set(known)
    for reference in new:
        if reference not in seen:
            seen.add(reference)
            out.append(reference)
    return out


def empty_usage() -> Usage:
    return {"llm_calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "model_seconds": 0.0}


class AgentState(TypedDict, total=False):
    """The checkpointed state of one conversation about one patient."""

    patient_id: str
    question: str
    turn: int
    turns: Annotated[list[TurnRecord], operator.add]
    route: Route
    reading: dict[str, Any]
    """This turn's :class:`agent.reading.Reading` (``model_dump``), made once by ``route``."""
    declined: str
    """Why the question is declined, as the answer says it (route ``decline``)."""
    pending: list[ToolCall]
    pending_source: str
    steps: Annotated[list[StepRecord], operator.add]
    evidence: Annotated[dict[str, EvidenceRecord], merge_evidence]
    aliases: Annotated[list[str], extend_aliases]
    planning_done: bool
    planning_failures: int
    draft: str
    draft_source: Literal["model", "extractive"]
    problems: list[str]
    attempts: int
    answer: str
    citations: list[dict[str, Any]]
    fallback: bool
    notes: Annotated[list[str], operator.add]
    usage: Usage


class AgentInput(TypedDict):
    """What a caller sends for one turn (the graph's input schema): the question only.

    The patient and the model come in the run context, never in the input.
    """

    question: str
