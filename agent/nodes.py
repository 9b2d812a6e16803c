"""The graph's nodes: route, plan, act, answer, verify.

Each node reads the checkpointed state, the run's knobs (:class:`Configuration`) and the
run's context (:class:`RunContext`, through LangGraph's ``Runtime``), and returns
the state keys it changes.  Progress goes to ``runtime.stream_writer`` as small dicts
(``{"type": "tool_call", ...}``) that :mod:`agent.events` turns into typed events.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from langgraph.config import get_config
from langgraph.runtime import Runtime

from agent.absence import failed_topics
from agent.answering import build_answer_prompt, conversation_digest
from agent.citations import Verification, verify_answer
from agent.configuration import Configuration, RunContext
from agent.extractive import FALLBACK_NOTE, NO_SUPPORTED_ANSWER, extractive_answer
from agent.models.base import Completion, ModelError
from agent.planner import fallback_calls, follow_on_calls, plan_reading
from agent.planner.model import plan_with_model
from agent.planner.rules import for_extractive
from agent.prompts import INSTRUCTIONS, answer_frame
from agent.reading import read_question, resolve_reading
from agent.reading.decline import decline_reason, reading_numbers, stored_reading
from agent.reading.model_reading import read_with_model
from agent.results import result_from_json, result_to_json, thread_aliases
from agent.state import AgentState, EvidenceRecord, StepRecord, ToolCall, Usage, empty_usage
from fhir_client.errors import FhirError
from tools import DEFAULT_TOOLS, run_tool
from tools.inert_text import inert_line

__all__ = ["act", "answer", "next_after_plan", "next_after_verify", "plan", "route", "verify"]

Update = dict[str, Any]


def _settings() -> Configuration:
    """This run's knobs, from ``config["configurable"]`` (LangGraph's current config)."""
    return Configuration.from_runnable_config(get_config())


def _add_usage(usage: Usage | None, completions: list[Completion]) -> Usage:
    total: Usage = dict(usage or empty_usage())  # type: ignore[assignment]
    for completion in completions:
        total["llm_calls"] += 1
        total["prompt_tokens"] += completion.prompt_tokens
        total["completion_tokens"] += completion.completion_tokens
        total["model_seconds"] += completion.seconds
    return total


def _tool_calls_made(state: AgentState) -> int:
    return sum(1 for step in state.get("steps", []) if step["node"] == "act")


def _previous_turn(state: AgentState) -> tuple[list[ToolCall], dict[str, str]]:
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


def _rule_calls(state: AgentState) -> list[ToolCall]:
    previous, earliest = _previous_turn(state)
    question = state.get("question", "")
    reading = stored_reading(state)
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
    settings = _settings()
    question = state.get("question", "")
    previous, earliest = _previous_turn(state)
    reading = read_question(question)
    declined = await decline_reason(reading, context.toolset)
    usage = empty_usage()
    steps: list[StepRecord] = []
    # Only a question the rules could not read at all costs a model call here.
    weak = reading.asks == "unknown" and not (reading.concepts or reading.families)
    if context.model is not None and not declined and weak:
        # The model fills the same form under a grammar; the rules check what it adds.
        filled = await read_with_model(context.model, question, reading)
        reading = filled.reading
        usage = _add_usage(usage, filled.completions)
        if filled.error is not None:  # the rules' reading stands; the failure is counted
            steps.append(_rejected_reading(filled.error))
    if not declined:
        reading = await resolve_reading(reading, context.toolset)
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
        "route": how,
        "reading": reading.model_dump(mode="json"),
        "declined": declined,
        "pending": pending,
        "steps": steps,  # appended to the list the turn's start emptied
        "planning_done": how not in ("model", "rules"),
        "notes": notes,  # appended to the list the turn's start emptied
        "usage": usage,
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


def _done_lines(state: AgentState) -> list[str]:
    """What the planner has already retrieved, compactly (header and a few lines each)."""
    aliases = thread_aliases(state.get("aliases", []))
    lines: list[str] = []
    for step in state.get("steps", []):
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
    settings = _settings()
    model = runtime.context.model
    used = _tool_calls_made(state)
    rules_turn = state.get("route") == "rules" and not state.get("planning_done")
    if rules_turn and not state.get("pending"):
        # The rules' second step: what a first result makes necessary ("what happened
        # at the last visit" needs that visit's date), then done.
        more = follow_on_calls(stored_reading(state), state.get("steps", []))
        return {"pending": more, "pending_source": "rules", "planning_done": True}
    if state.get("pending") or state.get("planning_done") or model is None:
        return {}
    if used >= settings.max_tool_calls:
        note = (
            f"The step budget of {settings.max_tool_calls} tool calls was used up; "
            "the answer uses the evidence retrieved so far."
        )
        return {"planning_done": True, "notes": [note]}
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
    update: Update = {"usage": _add_usage(state.get("usage"), outcome.completions)}
    # An attempt that raised still cost a model call.
    update["usage"]["llm_calls"] += outcome.attempts - len(outcome.completions)
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
        calls = _rule_calls(state) if used == 0 else []
        notes.append("The model's tool choice was invalid twice; the rule-based planner took over.")
        update.update(
            pending=calls[: settings.max_tool_calls - used],
            pending_source="rules",
            planning_done=True,
            planning_failures=state.get("planning_failures", 0) + 1,
        )
    elif outcome.call is None and used == 0:
        # Answering a question about the record from nothing is never grounded: let the
        # rules retrieve what the question names instead.
        update.update(
            pending=_rule_calls(state)[: settings.max_tool_calls],
            pending_source="rules",
            planning_done=True,
        )
        notes.append(
            "The model chose to answer without evidence; the rule-based planner retrieved it."
        )
    elif outcome.call is None or _already_made(state, outcome.call):
        update["planning_done"] = True
    else:
        update.update(pending=[outcome.call], pending_source="model")
    update["steps"] = [step]
    update["notes"] = notes
    return update


def _already_made(state: AgentState, call: ToolCall) -> bool:
    return any(
        s["node"] == "act" and s["tool"] == call["tool"] and s["arguments"] == call["arguments"]
        for s in state.get("steps", [])
    )


def next_after_plan(state: AgentState) -> str:
    settings = _settings()
    if state.get("pending") and _tool_calls_made(state) < settings.max_tool_calls:
        return "act"
    return "answer"


def _joined_text(known: str, new: str) -> str:
    """One resource seen by two tools keeps both views (a medication order's line and the
    line naming its reason), so an answer citing it may state what either says."""
    if new in known:
        return known
    return inert_line(new if known in new else f"{known}; {new}")


async def act(state: AgentState, runtime: Runtime[RunContext]) -> Update:
    """Run the next pending tool call for the bound patient and record its evidence."""
    pending = list(state.get("pending", []))
    call = pending.pop(0)
    runtime.stream_writer(
        {"type": "tool_call", "tool": call["tool"], "arguments": call["arguments"]}
    )
    step: StepRecord = {
        "node": "act",
        "tool": call["tool"],
        "arguments": call["arguments"],
        "count": 0,
        "source": state.get("pending_source", "rules"),
        "error": None,
        "result": None,
    }
    known = state.get("evidence", {})
    evidence: dict[str, EvidenceRecord] = {}  # new or changed records (merged by the state)
    aliases: list[str] = []  # references to append (the state skips those it has)
    try:
        result = await run_tool(runtime.context.toolset, call["tool"], call["arguments"])
    except (FhirError, ValueError) as error:
        step["error"] = str(error)
    else:
        step["result"] = result_to_json(result)
        step["count"] = len(result.evidence)
        turn = state.get("turn", 1)
        for item in result.evidence:
            earlier = evidence.get(item.reference) or known.get(item.reference)
            if earlier is None:
                record: EvidenceRecord = {
                    "reference": item.reference,
                    "text": item.text,
                    "date": item.date,
                    "tool": call["tool"],
                    "turn": turn,
                }
                evidence[item.reference] = record
            else:
                evidence[item.reference] = {
                    **earlier,
                    "text": _joined_text(earlier["text"], item.text),
                    "turn": turn,
                }
            aliases.append(item.reference)
    runtime.stream_writer(
        {"type": "evidence", "tool": call["tool"], "count": step["count"], "error": step["error"]}
    )
    return {
        "pending": pending,
        "steps": [step],
        "evidence": evidence,
        "aliases": aliases,
    }


def _token_sink(runtime: Runtime[RunContext], attempt: int) -> Any:
    """A thread-safe ``on_token``: backends may generate on a worker thread."""
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()

    def emit(piece: str) -> None:
        event = {"type": "token", "text": piece, "attempt": attempt}
        if threading.get_ident() == loop_thread:
            runtime.stream_writer(event)
        else:
            loop.call_soon_threadsafe(runtime.stream_writer, event)

    return emit


async def answer(state: AgentState, runtime: Runtime[RunContext]) -> Update:
    """Write (or repair) the answer: the model's, or the extractive one without a model."""
    model = runtime.context.model
    attempts = state.get("attempts", 0) + 1
    if state.get("route") == "decline":
        return {"draft": state.get("declined", ""), "draft_source": "extractive", "attempts": 1}
    if model is None:
        return {
            "draft": extractive_answer(state),
            "draft_source": "extractive",
            "attempts": attempts,
        }
    settings = _settings()
    prompt = build_answer_prompt(
        state,
        count_tokens=model.count_tokens,
        context_window=runtime.context.context_window(settings.context_window),
        max_tokens=settings.answer_max_tokens,
    )
    try:
        completion = await model.complete(
            prompt.system,
            prompt.user,
            max_tokens=settings.answer_max_tokens,
            on_token=_token_sink(runtime, attempts),
        )
    except ModelError as error:
        note = f"The model could not answer ({error}); the answer was composed from the evidence."
        return {
            "draft": extractive_answer(state),
            "draft_source": "extractive",
            "attempts": attempts,
            "fallback": True,
            "notes": [note],
        }
    return {
        "draft": completion.text.strip(),
        "draft_source": "model",
        "attempts": attempts,
        "usage": _add_usage(state.get("usage"), [completion]),
    }


def _verify(state: AgentState, draft: str, *, from_model: bool = False) -> Verification:
    question = state.get("question", "")
    aliases = thread_aliases(state.get("aliases", []))
    evidence = {ref: record["text"] for ref, record in state.get("evidence", {}).items()}
    # Numbers the question itself states (a threshold, "the last 3") may be repeated;
    # they come from the turn's reading, not from parsing the question again.
    question_numbers = reading_numbers(stored_reading(state))
    counts = [str(step["count"]) for step in state.get("steps", [])]
    # A tool's total (e.g. the server's count of a window) is a count it reported too.
    counts += [
        str(total)
        for step in state.get("steps", [])
        if isinstance(total := (step.get("result") or {}).get("total_available"), int)
    ]
    failed = [
        topic
        for step in state.get("steps", [])
        if step["node"] == "act" and step.get("error")
        for topic in failed_topics(step["tool"] or "", step["arguments"])
    ]
    searched = [
        topic
        for step in state.get("steps", [])
        if step["node"] == "act" and not step.get("error")
        for topic in failed_topics(step["tool"] or "", step["arguments"])
    ]
    return verify_answer(
        draft,
        resolve=aliases.resolve,
        evidence=evidence,
        allowed_numbers=[*question_numbers, *counts],
        instructions=(*INSTRUCTIONS, answer_frame(question)),
        own_words=(question,),
        failed_topics=failed,
        searched_topics=searched if searched or failed else None,
        require_citations=from_model,
    )


def _citations(verification: Verification) -> list[dict[str, Any]]:
    return [
        {"reference": c.reference, "verified": c.verified, "line": c.line}
        for c in verification.citations
    ]


async def verify(state: AgentState) -> Update:
    """Check the draft; ask for one repair; else fall back to the extractive answer."""
    draft = state.get("draft", "")
    checked = _verify(state, draft, from_model=state.get("draft_source") == "model")
    notes: list[str] = []  # appended to the turn's notes
    citations = _citations(checked)
    text = checked.text
    fallback = bool(state.get("fallback"))
    if not checked.ok and state.get("draft_source") == "model":
        if state.get("attempts", 0) < 2:
            return {"problems": checked.problems}
        # A rejected draft leaves nothing behind: only the fallback's own citations.
        fallback_check = _verify(state, extractive_answer(state))
        citations = _citations(fallback_check)
        text = f"{fallback_check.text}\n\n{FALLBACK_NOTE}"
        notes.extend(fallback_check.notes)
        fallback = True
        notes.extend(f"Rejected: {problem}" for problem in checked.problems[:5])
    elif not checked.ok:
        notes.extend(f"Unverified: {problem}" for problem in checked.problems[:5])
    elif fallback:
        text = f"{text}\n\n{FALLBACK_NOTE}"
    if checked.ok:
        notes.extend(checked.notes)  # what the verifier removed from an accepted answer
    if not text.strip() or text.strip() == FALLBACK_NOTE:
        text = NO_SUPPORTED_ANSWER  # every sentence failed the check: say so, never ""
    turn_refs = [
        ref for ref, e in state.get("evidence", {}).items() if e["turn"] == state.get("turn")
    ]
    if state.get("route") == "reuse" and state.get("turns"):
        turn_refs = state["turns"][-1]["references"]
    calls: list[ToolCall] = [
        {"tool": s["tool"] or "", "arguments": s["arguments"]}
        for s in state.get("steps", [])
        if s["node"] == "act"
    ]
    if state.get("route") == "reuse" and state.get("turns"):
        calls = state["turns"][-1]["calls"]
    turn_record = {
        "question": state.get("question", ""),
        "answer": text,
        "references": turn_refs,
        "cited": [c["reference"] for c in citations if c["verified"]],
        "calls": calls,
    }
    return {
        "answer": text,
        "citations": citations,
        "fallback": fallback,
        "notes": notes,
        "problems": [],
        "turns": [turn_record],
    }


def next_after_verify(state: AgentState) -> str:
    return "answer" if state.get("problems") else "end"
