"""The fresh free-form set, measured with the rule path (``--model none``).

Written in wording neither the main nor the held-out set uses
(``agent/replay/freeform/fresh.py``), over the fixture patients and the vendored
external patients (the HIV and Spezi sets); ground truth from the raw JSON by the same
referee as the other sets.  Its figure was recorded before the fixes of the session it
was written in (see the module docstring); the slow test asserts issue 10's targets
where they are reached and the reached value where they are not (``REACHED``), so a
regression fails and the gap stays visible.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from typing import Any

import pytest

from agent.replay.bundles import records_from_bundles
from agent.replay.freeform import KINDS, freeform_questions
from agent.replay.freeform.fresh import fresh_questions
from agent.replay.freeform.heldout import heldout_questions
from agent.replay.runner import plan_records
from tests.support.replay_rule_path import rule_path_report
from tests.support.tools_datasets import DATASET_DIRECTORIES

TODAY = date(2025, 6, 15)
TARGET = 0.90
REASONING_TARGET = 0.75
# Kinds below the target on this branch, with the value reached (asserted so a
# regression still fails); the report names why.
REACHED: dict[str, float] = {}
_DATASETS = ("fixtures", "hiv", "spezi")


def _records() -> list[Any]:
    return [r for name in _DATASETS for r in records_from_bundles(DATASET_DIRECTORIES[name])]


def test_the_fresh_set_covers_every_kind_and_shares_no_wording_with_the_other_sets() -> None:
    records = _records()
    plans = plan_records(records, templates=False, fresh_set=True, today=TODAY)
    questions = [q for p in plans for q in p.questions]
    kinds = Counter(q.category for q in questions)
    assert len(questions) >= 120 and set(kinds) == set(KINDS), kinds
    assert min(kinds.values()) >= 5, kinds
    assert len({q.id for q in questions}) == len(questions)
    others = {
        q.text
        for r in records
        for generate in (freeform_questions, heldout_questions)
        for q in generate(r, today=TODAY)
    }
    shared = {q.text for q in questions} & others
    assert not shared, sorted(shared)[:10]
    again = [q.to_json() for r in records[:3] for q in fresh_questions(r, today=TODAY)]
    assert again == [q.to_json() for r in records[:3] for q in fresh_questions(r, today=TODAY)]


@pytest.fixture(scope="module")
def fresh_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    checkpoint_dir = tmp_path_factory.mktemp("fresh")
    return rule_path_report(
        _DATASETS, checkpoint_dir, {"model": "none", "set": "fresh"}, fresh_set=True
    )


@pytest.mark.slow
def test_fresh_set_with_the_rule_path(fresh_report: dict[str, Any]) -> None:
    overall, by_kind = fresh_report["overall"], fresh_report["by_category"]
    print(json.dumps({k: (v["questions"], v["answer_correct"]) for k, v in by_kind.items()}))
    assert overall["errors"] == 0
    assert overall["citation_validity"] == 1.0
    assert overall["different_person"] == 0
    assert overall["false_absence"] == 0, [
        (q["text"], q["actual"]["answer"][:160])
        for q in fresh_report["questions"]
        if q["score"]["false_absence"]
    ]
    for kind, stats in by_kind.items():
        target = REASONING_TARGET if kind == "reasoning" else TARGET
        bar = min(target, REACHED.get(kind, target))
        assert stats["answer_correct"] >= bar, (kind, stats["answer_correct"])
        assert stats["citation_validity"] in (None, 1.0), kind
