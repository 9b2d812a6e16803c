"""Runner, checkpoint/resume, report and comparison with a fake answerer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.replay.model import ExpectedAnswer, make_question
from agent.replay.report import (
    build_report,
    compare_reports,
    comparison_markdown,
    markdown_summary,
    summarize,
)
from agent.replay.runner import (
    Checkpoint,
    CheckpointMismatch,
    PatientQuestions,
    run_replay,
)

QUESTIONS = [
    make_question(
        "p1",
        "vitals",
        "t",
        {"i": str(i)},
        f"Q{i}?",
        ExpectedAnswer("number", value=float(i)),
        [f"Observation/o{i}"],
    )
    for i in range(6)
]
PLANS = [PatientQuestions("p1", QUESTIONS, frozenset(f"Observation/o{i}" for i in range(6)))]


class FakeAnswerer:
    """States the right number for even questions, a wrong one for odd; can be interrupted."""

    def __init__(self, interrupt_after: int | None = None, wrong: set[int] | None = None) -> None:
        self.asked: list[str] = []
        self.interrupt_after = interrupt_after
        self.wrong = wrong if wrong is not None else {1, 3, 5}

    async def __call__(self, patient_id: str, question: str) -> dict[str, Any]:
        if self.interrupt_after is not None and len(self.asked) == self.interrupt_after:
            raise KeyboardInterrupt
        self.asked.append(question)
        i = int(question[1:-1])
        value = i + 100 if i in self.wrong else i
        ref = f"Observation/o{i}"
        return {
            "answer": f"It is {value} [{ref}].",
            "citations": [{"reference": ref, "verified": True}],
            "evidence": [{"reference": ref}],
            "tokens": {"prompt_tokens": 10, "completion_tokens": 5},
            "model": "fake",
        }


async def test_interrupted_run_resumes_and_skips_done_questions(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path / "r.json.partial.jsonl", "fake")
    first = FakeAnswerer(interrupt_after=4)
    with pytest.raises(KeyboardInterrupt):
        await run_replay(PLANS, first, checkpoint)
    assert len(checkpoint.load()) == 4  # every finished answer was saved before the interrupt
    # A crash mid-write leaves a cut line; it is ignored, not fatal.
    with checkpoint.path.open("a") as handle:
        handle.write('{"id": "cut')
    second = FakeAnswerer()
    seen: list[bool] = []
    results = await run_replay(PLANS, second, checkpoint, lambda r, resumed: seen.append(resumed))
    assert second.asked == ["Q4?", "Q5?"]
    assert seen == [True] * 4 + [False] * 2
    assert [r.question.id for r in results] == [q.id for q in QUESTIONS]
    assert [r.score.answer_correct for r in results] == [True, False] * 3


async def test_checkpoint_of_another_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.partial.jsonl"
    await run_replay(PLANS, FakeAnswerer(), Checkpoint(path, "none"))
    with pytest.raises(CheckpointMismatch, match="--fresh"):
        Checkpoint(path, "medgemma").load()


async def test_answerer_errors_are_wrong_answers_not_crashes(tmp_path: Path) -> None:
    class Broken:
        async def __call__(self, patient_id: str, question: str) -> dict[str, Any]:
            raise RuntimeError("model server down")

    results = await run_replay(PLANS, Broken(), Checkpoint(tmp_path / "c.jsonl", "x"))
    assert all(not r.score.answer_correct and r.error for r in results)
    assert summarize(results)["errors"] == 6


async def test_report_aggregates_and_compare_lists_changes(tmp_path: Path) -> None:
    old_results = await run_replay(PLANS, FakeAnswerer(), Checkpoint(tmp_path / "a", "fake"))
    old = build_report(old_results, {"model": "fake"})
    assert old["overall"]["questions"] == 6
    assert old["overall"]["answer_correct"] == 0.5
    assert old["overall"]["citation_validity"] == 1.0
    assert old["overall"]["prompt_tokens"] == 60
    assert old["by_category"]["vitals"]["evidence_recall"] == 1.0
    assert old["overall"]["latency_p50"] is not None
    assert old["questions"][1]["actual"]["answer"] == "It is 101 [Observation/o1]."
    assert old["questions"][1]["expected"] == {"kind": "number", "value": 1.0}
    assert "| vitals | 6 | 0.50 |" in markdown_summary(old)

    new_results = await run_replay(
        PLANS, FakeAnswerer(wrong={0, 3, 5}), Checkpoint(tmp_path / "b", "fake")
    )
    new = build_report(new_results, {"model": "fake"})
    comparison = compare_reports(old, new)
    assert [e["text"] for e in comparison.regressions] == ["Q0?"]
    assert [e["text"] for e in comparison.improvements] == ["Q1?"]
    assert comparison.deltas["overall"]["answer_correct"] == 0.0
    assert "1 regression(s), 1 improvement(s)" in comparison_markdown(comparison)
