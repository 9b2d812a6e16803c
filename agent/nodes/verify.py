"""The ``verify`` node: check the draft, ask for one repair, else fall back; end the turn.

The check is :func:`agent.citations.verify_answer`, given what this turn knows: the
thread's evidence and aliases, the numbers the question and the tools stated, and what
was searched (an answer may call absent only what was looked for).  A finished turn is
recorded in the thread's ``turns`` for follow-ups.
"""

from __future__ import annotations

import re
from typing import Any

from agent.absence import failed_topics
from agent.citations import Verification, verify_answer
from agent.extractive import FALLBACK_NOTE, NO_SUPPORTED_ANSWER, extractive_answer
from agent.nodes.knobs import Update
from agent.prompts import INSTRUCTIONS, answer_frame
from agent.reading.decline import reading_numbers, stored_reading
from agent.results import thread_aliases
from agent.state import AgentState, ToolCall, TurnRecord
from tools.registry import spec_of

__all__ = ["next_after_verify", "verify"]

_NUMBER = re.compile(r"\d+")


def _check(state: AgentState, draft: str, *, from_model: bool = False) -> Verification:
    question = state.get("question", "")
    turn = state["current"]
    aliases = thread_aliases(state.get("aliases", []))
    evidence = {ref: record["text"] for ref, record in state.get("evidence", {}).items()}
    # Numbers the question itself states (a threshold, "the last 3") may be repeated;
    # they come from the turn's reading, not from parsing the question again.
    question_numbers = reading_numbers(stored_reading(turn))
    steps = turn["steps"]
    counts = [str(step["count"]) for step in steps]
    # A tool's total (e.g. the server's count of a window) is a count it reported too.
    counts += [
        str(total)
        for step in steps
        if isinstance(total := (step.get("result") or {}).get("total_available"), int)
    ]
    # A report's notes state its own counts ("2 of the 40 laboratory results ...").
    counts += [
        number
        for step in steps
        if (spec := spec_of(step["tool"] or "")) is not None and spec.phrasing.reports
        for note in (step.get("result") or {}).get("notes", [])
        for number in _NUMBER.findall(note)
    ]
    failed = [
        topic
        for step in steps
        if step["node"] == "act" and step.get("error")
        for topic in failed_topics(step["tool"] or "", step["arguments"])
    ]
    searched = [
        topic
        for step in steps
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


def _turn_record(state: AgentState, text: str, citations: list[dict[str, Any]]) -> TurnRecord:
    """The finished turn as follow-ups see it (a reuse turn keeps the last one's basis)."""
    turn = state["current"]
    number = state.get("turn")
    references = [ref for ref, e in state.get("evidence", {}).items() if e["turn"] == number]
    calls: list[ToolCall] = [
        {"tool": s["tool"] or "", "arguments": s["arguments"]}
        for s in turn["steps"]
        if s["node"] == "act"
    ]
    if turn["route"] == "reuse" and state.get("turns"):
        references = state["turns"][-1]["references"]
        calls = state["turns"][-1]["calls"]
    return {
        "question": state.get("question", ""),
        "answer": text,
        "references": references,
        "cited": [c["reference"] for c in citations if c["verified"]],
        "calls": calls,
    }


async def verify(state: AgentState) -> Update:
    """Check the draft; ask for one repair; else fall back to the extractive answer."""
    turn = state["current"]
    from_model = turn["draft_source"] == "model"
    checked = _check(state, turn["draft"], from_model=from_model)
    notes: list[str] = []  # appended to the turn's notes
    citations = _citations(checked)
    text = checked.text
    fallback = turn["fallback"]
    if not checked.ok and from_model:
        if turn["attempts"] < 2:
            return {"current": {"problems": checked.problems}}
        # A rejected draft leaves nothing behind: only the fallback's own citations.
        fallback_check = _check(state, extractive_answer(state))
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
    return {
        "current": {
            "answer": text,
            "citations": citations,
            "fallback": fallback,
            "notes": notes,
            "problems": [],
        },
        "turns": [_turn_record(state, text, citations)],
    }


def next_after_verify(state: AgentState) -> str:
    return "answer" if state["current"]["problems"] else "end"
