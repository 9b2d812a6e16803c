"""The held-out free-form set, measured with the rule path (``--model none``).

Written after the rules, in fresh clinician wording (``agent/replay/freeform/heldout*``),
over the 12 fixture patients (431 questions; ``bench/freeform_sets.py --set heldout``
runs it on the vendored external sets and on lifetime records too); ground truth from
the raw JSON by the same referee as the main set.  The slow test asserts issue 10's
targets where they are reached and the reached value where they are not (``REACHED``,
``FALSE_ABSENCES``), so a regression fails and the gap stays visible.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from typing import Any

import pytest

from agent.replay.bundles import records_from_bundles
from agent.replay.freeform import KINDS, freeform_questions
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
_DATASETS = ("fixtures",)
# Reached on this branch where the target (zero) is not: the report names the cause.
FALSE_ABSENCES = 0
OTHER_PERSON = 0


@pytest.mark.slow
def test_the_held_out_set_covers_every_kind_and_shares_nothing_with_the_main_set() -> None:
    records = [r for name in _DATASETS for r in records_from_bundles(DATASET_DIRECTORIES[name])]
    plans = plan_records(records, templates=False, heldout=True, today=TODAY)
    questions = [q for p in plans for q in p.questions]
    kinds = Counter(q.category for q in questions)
    assert len(questions) >= 150 and set(kinds) == set(KINDS), kinds
    assert len({q.id for q in questions}) == len(questions)
    main = {q.text for r in records for q in freeform_questions(r, today=TODAY)}
    shared = {q.text for q in questions} & main
    # Only names that are the whole question may coincide (a bare "BMI?" in neither set).
    assert not shared, sorted(shared)[:10]
    again = [q.to_json() for r in records[:3] for q in heldout_questions(r, today=TODAY)]
    assert again == [q.to_json() for r in records[:3] for q in heldout_questions(r, today=TODAY)]


@pytest.fixture(scope="module")
def heldout_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    checkpoint_dir = tmp_path_factory.mktemp("heldout")
    return rule_path_report(
        _DATASETS, checkpoint_dir, {"model": "none", "patients": 12}, heldout=True
    )


@pytest.mark.slow
def test_heldout_set_with_the_rule_path(heldout_report: dict[str, Any]) -> None:
    overall, by_kind = heldout_report["overall"], heldout_report["by_category"]
    print(json.dumps({k: (v["questions"], v["answer_correct"]) for k, v in by_kind.items()}))
    assert overall["questions"] >= 150 and set(by_kind) == set(KINDS)
    assert overall["errors"] == 0
    assert overall["citation_validity"] == 1.0
    assert overall["different_person"] <= OTHER_PERSON
    assert overall["false_absence"] <= FALSE_ABSENCES, [
        (q["text"], q["actual"]["answer"][:160])
        for q in heldout_report["questions"]
        if q["score"]["false_absence"]
    ]
    # A count of results over a threshold cites every result it counts.
    for question in heldout_report["questions"]:
        if question["category"] == "threshold" and question["score"]["answer_correct"]:
            assert question["score"]["citation_recall"] == 1.0, question["text"]
    for kind, stats in by_kind.items():
        target = REASONING_TARGET if kind == "reasoning" else TARGET
        bar = min(target, REACHED.get(kind, target))
        assert stats["answer_correct"] >= bar, (kind, stats["answer_correct"])
        assert stats["citation_validity"] in (None, 1.0), kind
