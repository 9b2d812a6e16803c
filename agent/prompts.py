"""Prompt texts.  Each LLM call is one fresh single-turn prompt built from graph state.

Kept short on purpose: every token of instruction is paid on every call on a CPU, and
small Gemma models follow a few plain rules better than many.  Citations are the short
``[n]`` aliases of the evidence lines (see ``agent.results.thread_aliases``).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ANSWER_SYSTEM",
    "INSTRUCTIONS",
    "PLAN_SYSTEM",
    "answer_frame",
    "answer_user",
    "plan_user",
    "repair_user",
]

PLAN_SYSTEM = (
    "You choose the next tool call to answer a clinician's question about one patient's "
    "health record. The patient is already selected. Reply with one JSON object: "
    '{"action": "<tool>", "arguments": {...}} to retrieve data, or {"action": "answer"} '
    "when the results below are enough to answer."
)

ANSWER_SYSTEM = (
    "You answer a clinician's question about one patient using only the evidence lines "
    "given. After each fact, cite the number of the evidence line it comes from in "
    "brackets, like [0] (a placeholder: use the line's real number). Copy numbers and "
    "dates exactly as written in the evidence. If the evidence does not answer the "
    "question, say what is missing. Answer in at most four short sentences or a short "
    "list. Do not give treatment advice."
)


_ANSWER_CUE = "Answer with citations:"
_REPAIR_HEAD = "A previous answer was rejected:"
_REPAIR_CUE = "Write a corrected answer that cites only the evidence above:"
# Evidence aliases start at 1, so the example key [0] above can never name evidence:
# an answer that copies it is rejected as an unretrieved citation.
# Every fixed instruction text, for the verifier's echo check (agent.citations).
INSTRUCTIONS: tuple[str, ...] = (ANSWER_SYSTEM, PLAN_SYSTEM, _ANSWER_CUE, _REPAIR_CUE)


def _digest_block(digest: str) -> str:
    return f"Earlier in this conversation:\n{digest}\n\n" if digest else ""


def plan_user(
    question: str,
    *,
    tools: Sequence[tuple[str, str]],
    done: Sequence[str],
    digest: str = "",
    calls_left: int,
) -> str:
    """The planning prompt: tools, what was retrieved so far, the question."""
    tool_lines = "\n".join(f"- {name}: {description}" for name, description in tools)
    done_block = "\n".join(done) if done else "(nothing yet)"
    return (
        f"Tools:\n{tool_lines}\n\n{_digest_block(digest)}"
        f"Retrieved so far:\n{done_block}\n\n"
        f"Tool calls left: {calls_left}\n"
        f"Question: {question}\nNext action as JSON:"
    )


def answer_frame(question: str) -> str:
    """The answer prompt's own text around the evidence: an answer that repeats it
    ("Question: ... Answer with citations:") echoes the prompt, whatever it cites."""
    return f"Question: {question}\n{_ANSWER_CUE}"


def answer_user(
    question: str, evidence: Sequence[str], *, digest: str = "", notes: str = ""
) -> str:
    """The answer prompt: the question, the digest, and the evidence lines with keys."""
    lines = "\n".join(evidence) if evidence else "(no evidence was found)"
    notes_block = f"Retrieval notes:\n{notes}\n\n" if notes else ""
    return f"{_digest_block(digest)}Evidence:\n{lines}\n\n{notes_block}{answer_frame(question)}"


def repair_user(base: str, draft: str, problems: Sequence[str]) -> str:
    """The one repair prompt: the same task, the rejected answer, and what was wrong."""
    listed = "\n".join(f"- {p}" for p in problems[:8])
    return f"{base}\n\n{_REPAIR_HEAD}\n{draft}\n\nProblems:\n{listed}\n{_REPAIR_CUE}"
