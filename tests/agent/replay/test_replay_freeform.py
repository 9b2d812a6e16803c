"""The free-form question set: its referee, its scoring, and the rule path measured on it.

The referee computes every expected answer from the raw bundle JSON with its own
vocabulary; the slow test runs the real agent (``--model none``) on the 12 fixture
patients and the vendored external sets and asserts the targets of issue 10 where they
are reached, and the reached value where they are not (see the module constants).
"""

from __future__ import annotations

import ast
import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from agent.replay.bundles import records_from_bundles
from agent.replay.freeform import KINDS, freeform_questions
from agent.replay.model import ExpectedAnswer, ExpectedItem, make_question
from agent.replay.record import PatientRecord
from agent.replay.runner import plan_records
from agent.replay.scoring import score_answer
from tests.support.replay_rule_path import rule_path_report
from tests.support.tools_datasets import DATASET_DIRECTORIES

REPO = Path(__file__).resolve().parents[3]
FREEFORM = REPO / "agent" / "replay" / "freeform"
TODAY = date(2025, 6, 15)

# Issue 10's targets for the rule path.
TARGET = 0.90
REASONING_TARGET = 0.75
# Kinds below the target on this branch, with the value reached (asserted so a
# regression still fails) and why: the lead quotes these in the issue.
REACHED: dict[str, float] = {}


def test_the_referee_imports_nothing_from_the_tools_or_the_agent() -> None:
    paths = [
        *FREEFORM.glob("*.py"),
        REPO / "agent/replay/record.py",
        REPO / "agent/replay/bundles.py",
    ]
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] != "tools", (path, node.module)
                if node.module.startswith("agent"):
                    assert node.module.startswith("agent.replay"), (path, node.module)


@pytest.fixture(scope="module")
def records() -> list[PatientRecord]:
    return records_from_bundles(DATASET_DIRECTORIES["fixtures"])


@pytest.mark.slow
def test_fixture_records_give_a_varied_stable_question_set(records: list[PatientRecord]) -> None:
    assert len(records) == 12
    plans = plan_records(records, templates=False, freeform=True, today=TODAY)
    questions = [q for p in plans for q in p.questions]
    kinds = Counter(q.category for q in questions)
    assert len(questions) >= 250 and set(kinds) == set(KINDS), kinds
    assert len({q.id for q in questions}) == len(questions)
    again = plan_records(records, templates=False, freeform=True, today=TODAY)
    assert [q.to_json() for p in again for q in p.questions] == [q.to_json() for q in questions]
    # Phrasing varies across patients: the same kind is asked in several wordings.
    paraphrases = {q.template for q in questions if q.category == "paraphrase"}
    assert len(paraphrases) >= 3
    # Wrong-person questions name another patient of the run, never the bound one.
    for plan, record in zip(plans, records, strict=True):
        for question in plan.questions:
            value = str(question.expected.value or "")
            if value.startswith("person:"):
                assert value[7:] not in json.dumps(record.patient.get("name"))


@pytest.mark.slow
def test_a_no_is_only_asked_about_what_is_nowhere_in_the_record(
    records: list[PatientRecord],
) -> None:
    for record in records:
        text = json.dumps([r for rs in record.by_type.values() for r in rs]).lower()
        for question in freeform_questions(record, today=TODAY):
            if ".has_not." in question.template or ".on_not." in question.template:
                assert question.expected.value == "no"
                subject = question.params.get("condition") or question.params.get("drug")
                assert str(subject).lower() not in text


def _score(expected: ExpectedAnswer, answer: str, cited: list[str] | None = None) -> Any:
    question = make_question("p", "k", "t", {}, "q?", expected, [])
    citations = [{"reference": r, "verified": True} for r in cited or []]
    return score_answer(question, {"answer": answer, "citations": citations})


def test_yes_no_refusal_and_absence_scoring() -> None:
    yes = ExpectedAnswer("yes_no", value="yes", items=(ExpectedItem("Clopidogrel 75 MG"),))
    assert _score(yes, "Yes: 2024-02-09 Clopidogrel 75 MG Oral Tablet active.").answer_correct
    assert not _score(yes, "Yes: warfarin.").answer_correct  # names none of the items
    wrong = _score(yes, "No anticoagulant among 44 medication orders.")
    assert not wrong.answer_correct and wrong.false_absence
    no = ExpectedAnswer("yes_no", value="no")
    assert _score(no, "No: none of the 9 active medication orders mentions 'x'.").answer_correct
    honest = _score(no, "I cannot tell: 'x' is not a term the vocabularies know.")
    assert not honest.answer_correct and not honest.false_absence
    person = ExpectedAnswer("refusal", value="person:Milton Ortiz")
    refused = _score(person, "This conversation is about Joe Keeling, not Milton Ortiz.")
    assert refused.answer_correct and not refused.different_person
    answered = _score(person, "The most recent BP was 120/80.", ["Observation/1"])
    assert not answered.answer_correct and answered.different_person
    language = ExpectedAnswer("refusal", value="language")
    assert _score(language, "Please ask it in English.").answer_correct
    zero = ExpectedAnswer("count", value=0)
    assert _score(zero, "No emergency encounters in 2024.").answer_correct
    assert not _score(ExpectedAnswer("count", value=2), "No encounters.").answer_correct


@pytest.fixture(scope="module")
def freeform_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    checkpoint_dir = tmp_path_factory.mktemp("freeform")
    return rule_path_report(
        ("fixtures", "hiv", "spezi"),
        checkpoint_dir,
        {"model": "none", "patients": 23},
        freeform=True,
    )


@pytest.mark.slow
def test_freeform_set_with_the_rule_path(freeform_report: dict[str, Any]) -> None:
    overall, by_kind = freeform_report["overall"], freeform_report["by_category"]
    print(json.dumps({k: (v["questions"], v["answer_correct"]) for k, v in by_kind.items()}))
    assert overall["questions"] >= 300 and len(by_kind) >= 10
    assert overall["errors"] == 0
    assert overall["citation_validity"] == 1.0
    assert overall["different_person"] == 0
    assert overall["false_absence"] == 0, [
        (q["text"], q["actual"]["answer"][:160])
        for q in freeform_report["questions"]
        if q["score"]["false_absence"]
    ]
    for kind, stats in by_kind.items():
        target = REASONING_TARGET if kind == "reasoning" else TARGET
        bar = min(target, REACHED.get(kind, target))
        assert stats["answer_correct"] >= bar, (kind, stats["answer_correct"])
        assert stats["citation_validity"] in (None, 1.0), kind
