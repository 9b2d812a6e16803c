"""Run replay questions through an answerer, one at a time, checkpointing every result.

Why one at a time: the models this project targets are CPU-bound, and two concurrent
generations on a laptop only make both slower.  Why a JSONL checkpoint: a replay with a
real model takes hours, so each scored result is appended (and flushed) as soon as it
exists; an interrupted run leaves a usable partial report and the next run with the
same checkpoint skips every question already done.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from agent.replay.freeform import freeform_questions, person_name
from agent.replay.freeform.fresh import fresh_questions
from agent.replay.freeform.heldout import heldout_questions
from agent.replay.ground_truth import generate_questions
from agent.replay.model import Question
from agent.replay.record import PatientRecord, RecordSource, fetch_record, reference
from agent.replay.scoring import AnswerScore, score_answer

__all__ = [
    "Answerer",
    "Checkpoint",
    "CheckpointMismatch",
    "PatientQuestions",
    "QuestionResult",
    "plan_records",
    "plan_replay",
    "run_replay",
]

CHECKPOINT_VERSION = 1
PLANNING_NODES = frozenset({"plan"})
"""Steps in which a model fills a form under a grammar (a tool call, or the reading form:
``{"action": "read"}``)."""


class Answerer(Protocol):
    """Anything that answers one question about one patient with the output contract."""

    async def __call__(self, patient_id: str, question: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class PatientQuestions:
    """One patient's questions and every reference in their record (to check citations)."""

    patient_id: str
    questions: list[Question]
    record_references: frozenset[str] = frozenset()


@dataclass(frozen=True)
class QuestionResult:
    """One asked and scored question, as stored in the checkpoint and the report."""

    question: Question
    answer: str
    citations: list[dict[str, Any]]
    evidence: list[str]
    score: AnswerScore
    latency_seconds: float
    tokens: dict[str, int] = field(default_factory=dict)
    model: str = ""
    error: str | None = None
    fallback: bool = False
    invalid_plans: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            **self.question.to_json(),
            "actual": {
                "answer": self.answer,
                "citations": self.citations,
                "evidence": self.evidence,
                "model": self.model,
                "error": self.error,
                "fallback": self.fallback,
                "invalid_plans": self.invalid_plans,
            },
            "score": self.score.to_json(),
            "latency_seconds": round(self.latency_seconds, 4),
            "tokens": self.tokens,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuestionResult:
        actual = data.get("actual") or {}
        return cls(
            question=Question.from_json(data),
            answer=str(actual.get("answer", "")),
            citations=list(actual.get("citations") or []),
            evidence=[str(r) for r in actual.get("evidence") or []],
            score=AnswerScore(**data["score"]),
            latency_seconds=float(data.get("latency_seconds", 0.0)),
            tokens={k: int(v) for k, v in (data.get("tokens") or {}).items()},
            model=str(actual.get("model", "")),
            error=actual.get("error"),
            fallback=bool(actual.get("fallback", False)),
            invalid_plans=int(actual.get("invalid_plans", 0)),
        )


class CheckpointMismatch(Exception):
    """The checkpoint on disk belongs to a different replay (another model)."""


class Checkpoint:
    """An append-only JSONL file: a header line, then one result per line.

    A line cut short by a crash is ignored on reading, so at worst the question it held
    is asked again.
    """

    def __init__(self, path: Path, model: str) -> None:
        self.path = path
        self.model = model

    def load(self) -> dict[str, QuestionResult]:
        """Results already stored (by question id); empty when there is no checkpoint."""
        if not self.path.exists():
            return {}
        lines = self.path.read_text(encoding="utf-8").splitlines()
        done: dict[str, QuestionResult] = {}
        for number, line in enumerate(lines):
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if number == 0 and "replay_checkpoint" in data:
                if data.get("model") != self.model:
                    raise CheckpointMismatch(
                        f"{self.path} holds an interrupted replay with model "
                        f"{data.get('model')!r}, not {self.model!r}; rerun with that model "
                        "to resume it, or pass --fresh to discard it"
                    )
                continue
            try:
                result = QuestionResult.from_json(data)
            except (KeyError, TypeError, ValueError):
                continue
            done[result.question.id] = result
        return done

    def start(self) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            header = {"replay_checkpoint": CHECKPOINT_VERSION, "model": self.model}
            self.path.write_text(json.dumps(header) + "\n", encoding="utf-8")

    def append(self, result: QuestionResult) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
            handle.flush()

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


async def plan_replay(
    source: RecordSource,
    patient_ids: Sequence[str],
    extra_questions: Sequence[Question] = (),
    *,
    templates: bool = True,
    freeform: bool = False,
    heldout: bool = False,
    fresh_set: bool = False,
    today: date | None = None,
) -> list[PatientQuestions]:
    """Fetch each patient's record and generate its questions (plus the file's extras).

    ``freeform`` adds the free-form set (:mod:`agent.replay.freeform`), whose
    wrong-person questions name the other patients of the run; ``heldout`` adds the
    held-out free-form set (:mod:`agent.replay.freeform.heldout`); ``fresh_set`` the
    small fresh set (:mod:`agent.replay.freeform.fresh`).
    """
    extras: dict[str, list[Question]] = {}
    for question in extra_questions:
        extras.setdefault(question.patient_id, []).append(question)
    ordered = list(dict.fromkeys([*patient_ids, *extras]))
    records = [await fetch_record(source, patient_id) for patient_id in ordered]
    return plan_records(
        records,
        extras,
        templates=templates,
        freeform=freeform,
        heldout=heldout,
        fresh_set=fresh_set,
        today=today,
    )


def plan_records(
    records: Sequence[PatientRecord],
    extras: dict[str, list[Question]] | None = None,
    *,
    templates: bool = True,
    freeform: bool = False,
    heldout: bool = False,
    fresh_set: bool = False,
    today: date | None = None,
) -> list[PatientQuestions]:
    """The questions of records already in hand (e.g. read from bundle files)."""
    names = [person_name(record.patient) for record in records]
    plans: list[PatientQuestions] = []
    for record in records:
        refs = frozenset(
            reference(r) for resources in record.by_type.values() for r in resources
        ) | frozenset(record.medications)
        questions = generate_questions(record) if templates else []
        if freeform:
            questions += freeform_questions(record, names, today)
        if heldout:
            questions += heldout_questions(record, names, today)
        if fresh_set:
            questions += fresh_questions(record, names, today)
        questions += (extras or {}).get(record.id, [])
        plans.append(PatientQuestions(record.id, questions, refs))
    return plans


def _failed(question: Question, error: Exception, seconds: float) -> QuestionResult:
    score = AnswerScore(
        answer_correct=False,
        evidence_recall=0.0 if question.expected_references else 1.0,
        citation_validity=None,
        citation_recall=0.0 if question.expected_references else 1.0,
        citations=0,
        problems=[f"the answerer failed: {type(error).__name__}: {error}"],
    )
    return QuestionResult(question, "", [], [], score, seconds, error=f"{error}")


async def ask_one(
    answerer: Answerer, question: Question, record_references: frozenset[str]
) -> QuestionResult:
    """Ask, time and score one question; an answerer error is a wrong answer, not a crash."""
    started = time.perf_counter()
    try:
        output = await answerer(question.patient_id, question.text)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:  # one broken answer must not end the replay
        return _failed(question, error, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    score = score_answer(question, output, set(record_references) or None)
    tokens = output.get("tokens") or {}
    return QuestionResult(
        question=question,
        answer=str(output.get("answer") or ""),
        citations=[
            {"reference": c.get("reference"), "verified": bool(c.get("verified"))}
            for c in output.get("citations") or []
            if isinstance(c, dict)
        ],
        evidence=[
            str(e.get("reference")) for e in output.get("evidence") or [] if isinstance(e, dict)
        ],
        score=score,
        latency_seconds=seconds,
        tokens={k: int(v) for k, v in tokens.items() if isinstance(v, int | float)},
        model=str(output.get("model") or ""),
        fallback=bool(output.get("fallback")),
        invalid_plans=invalid_plans(output),
    )


def invalid_plans(output: dict[str, Any]) -> int:
    """How many planning steps of ``output`` had a model output rejected.

    A plan step carries the reasons its output was refused (not JSON, outside the schema,
    arguments the tool rejects) in ``error``, whether a retry then succeeded or the rules
    took over; each such step is one invalid plan.
    """
    return sum(
        1
        for step in output.get("steps") or []
        if isinstance(step, dict) and step.get("node") in PLANNING_NODES and step.get("error")
    )


async def run_replay(
    plans: Sequence[PatientQuestions],
    answerer: Answerer,
    checkpoint: Checkpoint,
    on_result: Callable[[QuestionResult, bool], None] | None = None,
) -> list[QuestionResult]:
    """Answer every planned question not already in the checkpoint; all results, in plan order.

    ``on_result(result, resumed)`` is called for each question (``resumed`` when it came
    from the checkpoint) so a caller can drive a progress bar.
    """
    done = checkpoint.load()
    checkpoint.start()
    results: list[QuestionResult] = []
    for plan in plans:
        for question in plan.questions:
            previous = done.get(question.id)
            if previous is not None:
                results.append(previous)
                if on_result:
                    on_result(previous, True)
                continue
            result = await ask_one(answerer, question, plan.record_references)
            checkpoint.append(result)
            results.append(result)
            if on_result:
                on_result(result, False)
    return results
