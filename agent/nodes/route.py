"""The ``route`` node: read the question once and decide how this turn retrieves.

Rules (the rules' calls, when there is no model or the rules are confident), model
(planned call by call in ``plan``), reuse (a follow-up about earlier results) or decline
(another person named, a language not read).  The question's reading is stored in the
turn's record here, once; every later node reads it from there.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from agent.configuration import RunContext
from agent.models.base import Completion
from agent.nodes.knobs import Update, knobs, usage_of
from agent.planner import fallback_calls, plan_reading
from agent.planner.rules import for_extractive
from agent.reading import read_question, resolve_reading
from agent.reading.decline import decline_reason, stored_reading
from agent.reading.judgement import with_monitoring
from agent.state import AgentState, StepRecord, ToolCall

__all__ = ["previous_turn", "route", "rule_calls"]


def previous_turn(state: AgentState) -> tuple[list[ToolCall], dict[str, str]]:
    """The last turn's calls and, per tool, the earliest date it found."""
    turns = state.get("turns", [])
    if not turns:
        return [], {}
    last = turns[-1]
    earliest: dict[str, str] = {}
    evidence = state.get("evidence", {})
    # "Before that" means before what the answer stated, so anchor on what it cited.
    for reference in last.get("cited") or last["references"]:
        record = evidence.get(reference)
        if record and record["date"]:
            current = earliest.get(record["tool"])
            earliest[record["tool"]] = min(current or record["date"], record["date"])
    return last["calls"], earliest


def rule_calls(state: AgentState) -> list[ToolCall]:
    """The rules' calls for this turn's question (when the model's planning failed)."""
    previous, earliest = previous_turn(state)
    question = state.get("question", "")
    reading = stored_reading(state["current"])
    return plan_reading(reading, question, previous, earliest).calls or fallback_calls(question)


async def route(state: AgentState, runtime: Runtime[RunContext]) -> Update:
    """Start a turn: check the thread's patient, read the question, decide how to retrieve."""
    context = runtime.context
    owner = state.get("patient_id")
    if owner and owner != context.patient_id:
        raise ValueError(
            f"this conversation thread is about patient {owner}, not {context.patient_id}; "
            "start a new thread for another patient"
        )
    settings = knobs()
    question = state.get("question", "")
    previous, earliest = previous_turn(state)
    reading = read_question(question)
    declined = await decline_reason(reading, context.toolset)
    completions: list[Completion] = []
    steps: list[StepRecord] = []
    # Only a question the rules could not read at all costs a model call here.
    weak = reading.asks == "unknown" and not (reading.concepts or reading.families)
    if context.model is not None and not declined and weak:
        # The model fills the same form under a grammar; the rules check what it adds.
        # Imported here, where a model is used: the rule-based path never loads it.
        from agent.reading.model_reading import read_with_model

        filled = await read_with_model(context.model, question, reading)
        reading = filled.reading
        completions.extend(filled.completions)
        if filled.error is not None:  # the rules' reading stands; the failure is counted
            steps.append(_rejected_reading(filled.error))
    if not declined:
        reading = await resolve_reading(reading, context.toolset)
    if context.model is None:
        # "is his diabetes controlled?": the results a clinician would look at too
        # (a model plans its own lookups for such a question).
        reading = with_monitoring(reading)
    rules = plan_reading(reading, question, previous, earliest)
    notes: list[str] = []
    pending: list[ToolCall] = []
    if declined:
        how = "decline"
    elif rules.intent == "reuse":
        how = "reuse"
    elif context.model is None or rules.confident:
        how = "rules"
        pending = rules.calls or fallback_calls(question)
        if context.model is None:
            pending = for_extractive(pending, follow_up=rules.intent == "followup")
        if len(pending) > settings.max_tool_calls:
            notes.append(
                f"The question needs {len(pending)} lookups; only the first "
                f"{settings.max_tool_calls} (the step budget) were made."
            )
            pending = pending[: settings.max_tool_calls]
    else:
        how = "model"
    runtime.stream_writer({"type": "planning", "route": how, "calls": pending})
    return {
        "patient_id": context.patient_id,
        "turn": state.get("turn", 0) + 1,
        "current": {
            "route": how,
            "reading": reading.model_dump(mode="json"),
            "declined": declined,
            "pending": pending,
            "steps": steps,
            "planning_done": how not in ("model", "rules"),
            "notes": notes,
            "usage": usage_of(completions),
        },
    }


def _rejected_reading(error: str) -> StepRecord:
    """A planning step for a reading form the model filled invalidly (replay counts it)."""
    return {
        "node": "plan",
        "tool": None,
        "arguments": {"action": "read"},
        "count": 0,
        "source": "model",
        "error": f"reading form: {error}",
        "result": None,
    }
