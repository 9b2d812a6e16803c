"""The free-form question set: questions typed the way clinicians type them.

The template questions of :mod:`agent.replay.ground_truth` use one wording each; these
vary it (paraphrase, lay words, shorthand, other languages) and ask what the templates
do not (yes/no, periods, extremes, thresholds, comparisons, firsts, the last visit,
reasons, another person named).  Ground truth comes from the record's plain JSON with
the referee's own vocabulary (:mod:`agent.replay.freeform.vocabulary`), never through
``tools`` or the agent.  Each question's ``category`` is its kind, so the report is per
kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from agent.replay.freeform.base import KINDS, Asker
from agent.replay.freeform.clinical import yes_no_questions
from agent.replay.freeform.facts import person_name
from agent.replay.freeform.observations import observation_questions
from agent.replay.freeform.people import people_questions
from agent.replay.freeform.visits import visit_questions
from agent.replay.model import Question
from agent.replay.record import PatientRecord

__all__ = ["KINDS", "freeform_questions", "person_name"]


def freeform_questions(
    record: PatientRecord, other_people: Sequence[str] = (), today: date | None = None
) -> list[Question]:
    """Every free-form question this record supports, in a stable order.

    ``other_people`` are names of other patients (for the wrong-person kind); ``today``
    fixes the relative periods ("this yr") the ground truth is computed for.
    """
    own = person_name(record.patient)
    asker = Asker(record, today or date.today(), [p for p in other_people if p != own], own)
    for generate in (observation_questions, yes_no_questions, visit_questions, people_questions):
        generate(asker)
    order = {kind: index for index, kind in enumerate(KINDS)}
    return sorted(asker.questions, key=lambda q: order[q.category])
