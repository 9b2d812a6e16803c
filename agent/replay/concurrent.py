"""Run replay questions N at a time, for a model server that serves several at once.

Why a separate runner: :func:`agent.replay.runner.run_replay` asks one question at a
time because a local CPU model gains nothing from two generations at once. A model
behind an OpenAI-compatible server (llama.cpp's server with parallel slots, vLLM) and a
remote FHIR server overlap work across requests, so a replay there is faster with
several questions in flight. The results, the checkpoint and the report are the same:
each result is appended as soon as it is scored (in completion order; the checkpoint is
keyed by question id), and the returned list is in plan order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from agent.replay.runner import (
    Answerer,
    Checkpoint,
    PatientQuestions,
    QuestionResult,
    ask_one,
)
from fhir_client.limits import MAX_REPLAY_CONCURRENCY

__all__ = ["run_replay_concurrently"]


async def run_replay_concurrently(
    plans: Sequence[PatientQuestions],
    answerer: Answerer,
    checkpoint: Checkpoint,
    on_result: Callable[[QuestionResult, bool], None] | None = None,
    *,
    concurrency: int,
) -> list[QuestionResult]:
    """Like ``run_replay``, with up to ``concurrency`` questions in flight."""
    if not 1 <= concurrency <= MAX_REPLAY_CONCURRENCY:
        raise ValueError(
            f"concurrency must be 1 to {MAX_REPLAY_CONCURRENCY}, got {concurrency}; "
            "use about as many as the model server has parallel slots."
        )
    done = checkpoint.load()
    checkpoint.start()
    ordered = [(plan, question) for plan in plans for question in plan.questions]
    results: list[QuestionResult | None] = [None] * len(ordered)
    pending: asyncio.Queue[int] = asyncio.Queue()
    for index, (_, question) in enumerate(ordered):
        previous = done.get(question.id)
        if previous is not None:
            results[index] = previous
            if on_result:
                on_result(previous, True)
        else:
            pending.put_nowait(index)

    async def worker() -> None:
        while True:
            try:
                index = pending.get_nowait()
            except asyncio.QueueEmpty:
                return
            plan, question = ordered[index]
            result = await ask_one(answerer, question, plan.record_references)
            checkpoint.append(result)  # one short write between awaits: lines never interleave
            results[index] = result
            if on_result:
                on_result(result, False)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, pending.qsize())):
            group.create_task(worker())
    return [result for result in results if result is not None]
