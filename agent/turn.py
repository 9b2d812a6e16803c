"""The first two steps of every turn: a fresh turn record, then a check of the run.

Why two nodes: LangGraph keeps a node's writes only when the node succeeds.  Replacing
the turn's record (:class:`agent.state.TurnState`) first, in a node that cannot fail,
means a turn that fails afterwards (no run context, an unknown patient, a thread about
another patient) leaves no earlier answer behind for a reader of the thread to mistake
for this turn's.  Checking the patient before anything
is retrieved means an unknown id is an error that says so, rather than a search that
finds nothing and an answer that claims the patient has "no allergies".
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from agent.configuration import RunContext
from agent.state import AgentState, new_turn
from fhir_client.errors import ResourceNotFound
from fhir_client.limits import MAX_QUESTION_CHARS

__all__ = ["check_run", "start_turn"]

CONTEXT_EXAMPLE = '{"patient_id": "<Patient id>", "model_spec": "none"}'


async def start_turn(state: AgentState) -> dict[str, Any]:
    """Replace the previous turn's record with an empty one (see the module doc); never
    fails.  One value replaced whole: no field of the last turn can be left behind."""
    return {"current": Overwrite(new_turn())}


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
