"""The graph's state: everything a turn needs, and nothing that cannot be checkpointed.

A checkpointer stores this dict after every node, keyed by thread id, so it must be
plain JSON: no FHIR client, no model, no dataclasses.  Those arrive per run through
:class:`agent.configuration.RunContext`.

Two lifetimes, two shapes:

* The thread's: ``patient_id``, the ``turn`` count, finished ``turns``, the ``evidence``
  and the ``aliases`` that follow-ups cite.  They persist across turns, and LangGraph's
  reducers grow them (``turns`` appended, ``evidence`` merged, ``aliases`` extended), so
  a node returns only what it adds.
* The turn's: everything else (route, reading, pending calls, steps, notes, draft,
  answer, citations, usage) is one :class:`TurnState` under ``current``.  A turn's start
  replaces it whole with :func:`new_turn` (LangGraph's ``Overwrite``), so nothing of an
  earlier turn survives because someone forgot to clear a key.  Within a turn its
  reducer, :func:`merge_turn`, merges a node's partial record field by field: ``steps``
  and ``notes`` are appended to, ``usage`` is added up, every other field is replaced.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
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
    "TurnState",
    "Usage",
    "add_usage",
    "empty_usage",
    "extend_aliases",
    "merge_evidence",
    "merge_turn",
    "new_turn",
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

    ``result`` is the tool result without raw FHIR (see :mod:`agent.results`), so the
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


def empty_usage() -> Usage:
    return {"llm_calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "model_seconds": 0.0}


def add_usage(known: Usage, new: Usage) -> Usage:
    """Two nodes' model usage added up (the turn's usage is the sum of its nodes')."""
    return {
        "llm_calls": known["llm_calls"] + new["llm_calls"],
        "prompt_tokens": known["prompt_tokens"] + new["prompt_tokens"],
        "completion_tokens": known["completion_tokens"] + new["completion_tokens"],
        "model_seconds": known["model_seconds"] + new["model_seconds"],
    }


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


class TurnState(TypedDict):
    """One turn's working record and outcome (``AgentState["current"]``).

    Always whole in a turn: :func:`new_turn` writes every field before any other node
    runs, and nodes return partial records that :func:`merge_turn` folds in.
    """

    route: Route
    reading: dict[str, Any]
    """This turn's :class:`agent.reading.Reading` (``model_dump``), made once by ``route``."""
    declined: str
    """Why the question is declined, as the answer says it (route ``decline``)."""
    pending: list[ToolCall]
    pending_source: str
    planning_done: bool
    planning_failures: int
    steps: list[StepRecord]
    """Appended to (see :func:`merge_turn`)."""
    notes: list[str]
    """Appended to (see :func:`merge_turn`)."""
    draft: str
    draft_source: Literal["model", "extractive"]
    problems: list[str]
    attempts: int
    answer: str
    citations: list[dict[str, Any]]
    fallback: bool
    usage: Usage
    """Added up (see :func:`merge_turn`)."""


TURN_FIELDS = frozenset(TurnState.__annotations__)
TURN_APPENDED = ("steps", "notes")
"""The :class:`TurnState` lists a node adds to rather than replaces."""


def new_turn() -> TurnState:
    """A turn's record before the turn has done anything: no answer, no steps."""
    return {
        "route": "rules",
        "reading": {},
        "declined": "",
        "pending": [],
        "pending_source": "rules",
        "planning_done": False,
        "planning_failures": 0,
        "steps": [],
        "notes": [],
        "draft": "",
        "draft_source": "extractive",
        "problems": [],
        "attempts": 0,
        "answer": "",
        "citations": [],
        "fallback": False,
        "usage": empty_usage(),
    }


def merge_turn(known: TurnState, new: Mapping[str, Any]) -> TurnState:
    """``known`` with a node's partial record ``new`` folded in (the ``current`` reducer).

    ``steps`` and ``notes`` are appended to and ``usage`` added up, so a node returns only
    what it adds; any other field ``new`` names replaces the known one.  A new turn is not
    a merge: ``start_turn`` replaces the record with ``Overwrite(new_turn())``.
    """
    unknown = set(new) - TURN_FIELDS
    if unknown:  # a misspelt field would otherwise be stored beside the real one
        raise KeyError(f"not fields of a turn's record: {sorted(unknown)}")
    merged: dict[str, Any] = {**known, **new}
    for key in TURN_APPENDED:
        if key in new and key in known:
            merged[key] = [*known[key], *new[key]]  # type: ignore[literal-required]
    if "usage" in new and "usage" in known:
        merged["usage"] = add_usage(known["usage"], new["usage"])
    return merged  # type: ignore[return-value]


class AgentState(TypedDict, total=False):
    """The checkpointed state of one conversation about one patient (see the module doc)."""

    patient_id: str
    question: str
    turn: int
    """How many turns the thread has started (the current one included)."""
    turns: Annotated[list[TurnRecord], operator.add]
    evidence: Annotated[dict[str, EvidenceRecord], merge_evidence]
    aliases: Annotated[list[str], extend_aliases]
    current: Annotated[TurnState, merge_turn]
    """This turn's record: replaced whole when a turn starts, merged within it."""


class AgentInput(TypedDict):
    """What a caller sends for one turn (the graph's input schema): the question only.

    The patient and the model come in the run context, never in the input.
    """

    question: str
