"""The ``answer`` node: write (or repair) the draft, the model's or the extractive one.

Without a model, or when the model fails, the draft is composed from the evidence
(:func:`agent.extractive.extractive_answer`); a declined question's draft is the reason.
The model's tokens stream to the run's writer as they come, from whichever thread the
backend generates on.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from langgraph.runtime import Runtime

from agent.configuration import RunContext
from agent.extractive import extractive_answer
from agent.models.base import ModelError
from agent.nodes.knobs import Update, knobs, usage_of
from agent.reading.decline import stored_reading
from agent.state import AgentState

__all__ = ["answer"]


def _token_sink(runtime: Runtime[RunContext], attempt: int) -> Callable[[str], None]:
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
    turn = state["current"]
    attempts = turn["attempts"] + 1
    if turn["route"] == "decline":
        return {"current": {"draft": turn["declined"], "draft_source": "extractive", "attempts": 1}}
    reading = stored_reading(turn)
    if model is None or reading.due or reading.interaction:
        # A schedule question ("is she up to date on her shots?") or an interaction
        # question ("any drug interactions?") is answered from the evidence with a model
        # too: a model's "Yes" or "No" would judge what the record cannot.
        draft = extractive_answer(state)
        return {"current": {"draft": draft, "draft_source": "extractive", "attempts": attempts}}
    # Imported here, where a model answers: the rule-based path never builds a prompt.
    from agent.answering import build_answer_prompt

    settings = knobs()
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
            "current": {
                "draft": extractive_answer(state),
                "draft_source": "extractive",
                "attempts": attempts,
                "fallback": True,
                "notes": [note],
            }
        }
    return {
        "current": {
            "draft": completion.text.strip(),
            "draft_source": "model",
            "attempts": attempts,
            "usage": usage_of([completion]),
        }
    }
