"""``replay --concurrency N``: the same scored results as one at a time, N in flight.

Runs the real agent (rule path, ``--model none``) over the real embedded store
holding one fixture patient, once sequentially and once with four questions in
flight, and compares every answer and score.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.replay.answerer import AgentAnswerer
from agent.replay.concurrent import run_replay_concurrently
from agent.replay.runner import Checkpoint, plan_replay, run_replay
from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.limits import MAX_REPLAY_CONCURRENCY
from fhir_client.loading import load_paths

FIXTURES = Path(__file__).resolve().parents[3] / "synthea_fixtures" / "fhir"


def _smallest_patient_files() -> list[Path]:
    patients = [p for p in FIXTURES.glob("*.json") if "Information" not in p.name]
    if not patients:
        pytest.skip(f"no Synthea fixtures in {FIXTURES}")
    reference = [p for p in FIXTURES.glob("*.json") if "Information" in p.name]
    return [*reference, min(patients, key=lambda p: p.stat().st_size)]


class CountingAnswerer:
    """The real agent, counting how many questions are in flight at once."""

    def __init__(self, inner: AgentAnswerer) -> None:
        self.inner = inner
        self.in_flight = 0
        self.most = 0

    async def __call__(self, patient_id: str, question: str) -> dict[str, Any]:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            return await self.inner(patient_id, question)
        finally:
            self.in_flight -= 1


def _summary(results: list[Any]) -> list[tuple[str, str, bool]]:
    return [(r.question.id, r.answer, r.score.answer_correct) for r in results]


@pytest.mark.slow
def test_concurrent_replay_matches_sequential_and_overlaps(tmp_path: Path) -> None:
    async def run() -> None:
        store = EmbeddedStore(":memory:")
        try:
            async with embedded_client(store) as client:
                report = await load_paths(client, _smallest_patient_files())
                assert not report.failures
                patient = next(iter(await client.search("Patient")))["id"]
                plans = await plan_replay(client, [patient])
                sequential = await run_replay(
                    plans, AgentAnswerer(client, None), Checkpoint(tmp_path / "a.jsonl", "none")
                )
                counting = CountingAnswerer(AgentAnswerer(client, None))
                checkpoint = Checkpoint(tmp_path / "b.jsonl", "none")
                concurrent = await run_replay_concurrently(
                    plans, counting, checkpoint, concurrency=4
                )
                assert len(sequential) >= 5
                assert _summary(concurrent) == _summary(sequential)
                assert counting.most > 1, "questions never overlapped"
                assert set(checkpoint.load()) == {r.question.id for r in sequential}
                # A resumed run asks nothing again.
                again = CountingAnswerer(AgentAnswerer(client, None))
                resumed = await run_replay_concurrently(plans, again, checkpoint, concurrency=4)
                assert _summary(resumed) == _summary(sequential)
                assert again.most == 0
        finally:
            store.close()

    asyncio.run(run())


def test_concurrency_out_of_range_is_refused_with_the_bound(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "replay",
            "--all",
            "--concurrency",
            str(MAX_REPLAY_CONCURRENCY + 1),
            "--db",
            str(tmp_path / "s.sqlite"),
        ],
    )
    assert result.exit_code == 2
    assert "--concurrency" in result.output

    with pytest.raises(ValueError, match=f"concurrency must be 1 to {MAX_REPLAY_CONCURRENCY}"):
        asyncio.run(
            run_replay_concurrently(
                [], CountingAnswerer(None), Checkpoint(tmp_path / "c", "x"), concurrency=0
            )  # type: ignore[arg-type]
        )
