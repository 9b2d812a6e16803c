"""A fixed, stratified subset of a replay: the same few questions of every category.

Why: a replay with a real model on a CPU takes seconds per question, and the free-form
set alone has hundreds; a test or a quick bench needs a subset that still covers every
kind of question and is the same on every run.  Questions are ordered by their stable id
(a hash of patient, template and parameters), so the subset spreads over patients
without a random generator and does not change when other questions are added.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.replay.runner import PatientQuestions

__all__ = ["sample_plans"]


def sample_plans(
    plans: Sequence[PatientQuestions],
    per_category: int,
    *,
    categories: Sequence[str] | None = None,
) -> list[PatientQuestions]:
    """At most ``per_category`` questions of each category (of ``categories``, if given).

    The plans keep their order and their record references; a patient left with no
    question is dropped.
    """
    if per_category < 1:
        raise ValueError(f"per_category must be at least 1, got {per_category}")
    wanted = None if categories is None else set(categories)
    chosen: dict[str, list[str]] = {}
    for question in sorted((q for p in plans for q in p.questions), key=lambda q: q.id):
        if wanted is not None and question.category not in wanted:
            continue
        ids = chosen.setdefault(question.category, [])
        if len(ids) < per_category:
            ids.append(question.id)
    keep = {qid for ids in chosen.values() for qid in ids}
    sampled = [
        PatientQuestions(
            plan.patient_id,
            [q for q in plan.questions if q.id in keep],
            plan.record_references,
        )
        for plan in plans
    ]
    return [plan for plan in sampled if plan.questions]
