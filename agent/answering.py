"""The answer prompt: question, digest, and evidence lines, fitted to the context window.

Evidence is ranked (this turn's results in the order the tools returned them, then
earlier turns' evidence, most recent turn first) and trimmed a whole line at a time from
the bottom, so the model never sees half a line or a citation without its text.  Token
counts come from the model's own tokenizer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.answer_text import clean_draft
from agent.prompts import ANSWER_SYSTEM, answer_user, repair_user
from agent.results import result_from_json, thread_aliases
from agent.state import AgentState
from fhir_client.ids import CITATION

__all__ = ["AnswerPrompt", "build_answer_prompt", "conversation_digest", "evidence_lines"]

_SAFETY_TOKENS = 32
_DIGEST_ANSWER_CHARS = 400


@dataclass(frozen=True)
class AnswerPrompt:
    system: str
    user: str
    lines_kept: int
    lines_dropped: int


def evidence_lines(state: AgentState) -> list[str]:
    """Every evidence line for the answer, best first, cited with thread aliases."""
    aliases = thread_aliases(state.get("aliases", []))
    lines: list[str] = []
    seen: set[str] = set()
    for step in state["current"]["steps"]:
        if step.get("result") is None:
            continue
        result = result_from_json(step["result"])  # type: ignore[arg-type]
        for line in result.render(cite=aliases.cite).splitlines()[1:]:
            if line not in lines:
                lines.append(line)
        seen.update(result.references)
    turn = state.get("turn", 0)
    earlier = [
        e for ref, e in state.get("evidence", {}).items() if ref not in seen and e["turn"] < turn
    ]
    earlier.sort(key=lambda e: e["date"] or "", reverse=True)  # newest first within a turn
    earlier.sort(key=lambda e: e["turn"], reverse=True)  # stable: most recent turn first
    for record in earlier:
        lines.append(f"{record['text']} [{aliases.cite(record['reference'])}]")
    return lines


def conversation_digest(state: AgentState) -> str:
    """Earlier turns in a few lines, citations shortened to the thread's aliases."""
    aliases = thread_aliases(state.get("aliases", []))
    parts: list[str] = []
    for turn in state.get("turns", [])[-3:]:
        answer = CITATION.sub(lambda m: f"[{aliases.cite(m.group(1))}]", turn["answer"])
        if len(answer) > _DIGEST_ANSWER_CHARS:
            answer = answer[:_DIGEST_ANSWER_CHARS].rsplit(" ", 1)[0] + " ..."
        parts.append(f"Q: {turn['question']}\nA: {answer}")
    return "\n".join(parts)


def retrieval_notes(state: AgentState) -> str:
    """Tool errors and notes the model must not read as 'nothing recorded'."""
    notes: list[str] = []
    for step in state["current"]["steps"]:
        if step["node"] != "act":
            continue
        if step.get("error"):
            notes.append(f"{step['tool']} could not be retrieved: {step['error']}")
        elif (step.get("result") or {}).get("truncated"):
            notes.append(f"{step['tool']}: only the most recent results are shown; more exist.")
    return "\n".join(notes)


def build_answer_prompt(
    state: AgentState,
    *,
    count_tokens: Callable[[str], int],
    context_window: int,
    max_tokens: int,
) -> AnswerPrompt:
    """The answer (or repair) prompt, with as many ranked evidence lines as fit."""
    question = state.get("question", "")
    turn = state["current"]
    digest = conversation_digest(state)
    notes = retrieval_notes(state)
    all_lines = evidence_lines(state)

    def render(lines: list[str]) -> str:
        user = answer_user(question, lines, digest=digest, notes=notes)
        if turn["problems"]:
            # The rejected draft shown back without chat markers (they may have come from
            # the record through the model): only the template opens or closes a turn.
            user = repair_user(user, clean_draft(turn["draft"]), turn["problems"])
        return user

    budget = context_window - max_tokens - _SAFETY_TOKENS - count_tokens(ANSWER_SYSTEM)
    budget -= count_tokens(render([]))
    kept: list[str] = []
    for line in all_lines:
        cost = count_tokens(line) + 1
        if cost > budget:
            break
        kept.append(line)
        budget -= cost
    return AnswerPrompt(ANSWER_SYSTEM, render(kept), len(kept), len(all_lines) - len(kept))
