"""The first two steps of every turn: clear the last turn's outcome, then check the run.

Why two nodes: LangGraph keeps a node's writes only when the node succeeds.  Clearing
first, in a node that cannot fail, means a turn that fails afterwards (no run context, an
unknown patient, a thread about another patient) leaves no earlier answer behind for a
reader of the thread to mistake for this turn's.  Checking the patient before anything
is retrieved means an unknown id is an error that says so, rather than a search that
finds nothing and an answer that claims the patient has "no allergies".
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from agent.configuration import RunContext
from agent.state import AgentState
from fhir_client.errors import ResourceNotFound
from fhir_client.limits import MAX_QUESTION_CHARS

__all__ = ["CLEARED_EACH_TURN", "check_run", "start_turn"]

CLEARED_EACH_TURN: dict[str, Any] = {
    "answer": "",
    "citations": [],
    "draft": "",
    "problems": [],
    "fallback": False,
    "notes": Overwrite([]),
    "steps": Overwrite([]),
    "pending": [],
    "pending_source": "rules",
    "planning_failures": 0,
    "attempts": 0,
}
"""The outcome keys of a turn, as they read before the turn has any outcome (the lists
that reducers append to are replaced with LangGraph's ``Overwrite``)."""

CONTEXT_EXAMPLE = '{"patient_id": "<Patient id>", "model_spec": "none"}'


async def start_turn(state: AgentState) -> dict[str, Any]:
    """Clear the previous turn's outcome (see the module doc); never fails."""
    return {
        key: Overwrite([]) if isinstance(value, Overwrite) else value
        for key, value in CLEARED_EACH_TURN.items()
    }


async def check_run(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Refuse, with a message saying what to send, a run the graph cannot answer."""
    context = runtime.context
    if not isinstance(context, RunContext):
        raise ValueError(
            f"this graph needs a run context such as {CONTEXT_EXAMPLE} "
            "(LangGraph SDK: runs.stream(..., context={...}))"
        )
    question = state.get("question", "")
    if not question.strip():
        raise ValueError("the question is empty; ask something about the patient's record")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(
            f"the question is {len(question)} characters; the limit is {MAX_QUESTION_CHARS}"
        )
    try:
        await context.check_patient()
    except ResourceNotFound as error:
        raise ValueError(
            f"no patient {context.patient_id!r} in this record; check the id "
            "(`ehr-agent patients` or GET /patients lists them)"
        ) from error
    return {}
