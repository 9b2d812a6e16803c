"""The ``plan`` node: the next tool call, from the rules' second step or from the model.

A rules turn gets one more look after its calls ran (what a first result makes
necessary: "what happened at the last visit" needs that visit's date).  A model turn asks
the model for one constrained action at a time, within the step budget; a model that
fails twice, or that would answer from nothing, hands the turn to the rules.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from agent.configuration import RunContext
from agent.nodes.knobs import Update, knobs, tool_calls_made, usage_of
from agent.nodes.route import rule_calls
from agent.planner import follow_on_calls
from agent.reading.decline import stored_reading
from agent.results import result_from_json, thread_aliases
from agent.state import AgentState, StepRecord, ToolCall, TurnState
from tools import DEFAULT_TOOLS

__all__ = ["next_after_plan", "plan"]


def _done_lines(state: AgentState) -> list[str]:
    """What the planner has already retrieved, compactly (header and a few lines each)."""
    aliases = thread_aliases(state.get("aliases", []))
    lines: list[str] = []
    for step in state["current"]["steps"]:
        if step["node"] != "act":
            continue
        lines.append(f"{step['tool']} {step['arguments']}:")
        if step.get("error"):
            lines.append(f"  failed: {step['error']}")
        elif step["result"] is not None:
            result = result_from_json(step["result"])
            rendered = result.render(cite=aliases.cite)
            lines.extend("  " + line for line in rendered.splitlines()[:4])
    return lines


async def plan(state: AgentState, runtime: Runtime[RunContext]) -> Update:
    """Ask the model for the next action when the model plans this turn."""
    settings = knobs()
    model = runtime.context.model
    turn = state["current"]
    used = tool_calls_made(turn)
    rules_turn = turn["route"] == "rules" and not turn["planning_done"]
    if rules_turn and not turn["pending"]:
        # The rules' second step: what a first result makes necessary, then done.
        more = follow_on_calls(stored_reading(turn), turn["steps"])
        return {"current": {"pending": more, "pending_source": "rules", "planning_done": True}}
    if turn["pending"] or turn["planning_done"] or model is None:
        return {}
    if used >= settings.max_tool_calls:
        note = (
            f"The step budget of {settings.max_tool_calls} tool calls was used up; "
            "the answer uses the evidence retrieved so far."
        )
        return {"current": {"planning_done": True, "notes": [note]}}
    # Imported here, where a model plans: the rule-based path never loads them.
    from agent.answering import conversation_digest
    from agent.planner.model import plan_with_model

    runtime.stream_writer({"type": "planning", "route": "model", "calls": []})
    outcome = await plan_with_model(
        model,
        state.get("question", ""),
        tools=DEFAULT_TOOLS,
        done=_done_lines(state),
        digest=conversation_digest(state),
        calls_left=settings.max_tool_calls - used,
        max_tokens=settings.plan_max_tokens,
    )
    # An attempt that raised still cost a model call.
    failed_calls = outcome.attempts - len(outcome.completions)
    update: Update = {"usage": usage_of(outcome.completions, failed_calls=failed_calls)}
    step: StepRecord = {
        "node": "plan",
        "tool": None,
        "arguments": {"action": outcome.call["tool"] if outcome.call else "answer"},
        "count": 0,
        "source": "model",
        "error": "; ".join(outcome.errors) or None,
        "result": None,
    }
    notes: list[str] = []
    if outcome.failed:
        step["arguments"] = {"action": "invalid"}
        calls = rule_calls(state) if used == 0 else []
        notes.append("The model's tool choice was invalid twice; the rule-based planner took over.")
        update.update(
            pending=calls[: settings.max_tool_calls - used],
            pending_source="rules",
            planning_done=True,
            planning_failures=turn["planning_failures"] + 1,
        )
    elif outcome.call is None and used == 0:
        # Answering a question about the record from nothing is never grounded: let the
        # rules retrieve what the question names instead.
        update.update(
            pending=rule_calls(state)[: settings.max_tool_calls],
            pending_source="rules",
            planning_done=True,
        )
        notes.append(
            "The model chose to answer without evidence; the rule-based planner retrieved it."
        )
    elif outcome.call is None or _already_made(turn, outcome.call):
        update["planning_done"] = True
    else:
        update.update(pending=[outcome.call], pending_source="model")
    update["steps"] = [step]
    update["notes"] = notes
    return {"current": update}


def _already_made(turn: TurnState, call: ToolCall) -> bool:
    return any(
        s["node"] == "act" and s["tool"] == call["tool"] and s["arguments"] == call["arguments"]
        for s in turn["steps"]
    )


def next_after_plan(state: AgentState) -> str:
    turn = state["current"]
    if turn["pending"] and tool_calls_made(turn) < knobs().max_tool_calls:
        return "act"
    return "answer"
