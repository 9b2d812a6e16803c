"""The referee's rulings every free-form set shares: when a record gives one definite
answer, and what that answer is.

Why one module: the main, held-out and fresh sets differ only in wording and in which
measure or drug they happen to ask about; what counts as "the latest", "the highest",
"how many over 7" or "yes, she is on a statin" must be ruled the same way in every set,
so a score on one set is comparable with a score on another.  Each function is pure
over the record's plain JSON (no ``tools`` import): the sets pick, this rules.
"""

from __future__ import annotations

import json
from typing import Any

from agent.replay.freeform.base import Asker
from agent.replay.freeform.facts import Result, condition_names
from agent.replay.model import ExpectedAnswer, ExpectedItem
from agent.replay.record import (
    PatientRecord,
    Resource,
    clean_name,
    codes_of,
    display_of,
    moment,
    reference,
)

__all__ = [
    "absent_from_record",
    "active_disorders",
    "admission_outside_inpatient",
    "definite_extreme",
    "definite_first",
    "definite_last_two",
    "definite_latest",
    "emergency_visits",
    "inpatient_answer",
    "inpatient_visits",
    "record_text",
    "smoking_status",
    "threshold_hits",
    "value_answer",
    "with_words",
    "yes_no_answer",
]


def definite_latest(found: list[Result]) -> Result | None:
    """The newest result, or None when another result shares its day (no one answer)."""
    newest = found[-1]
    return newest if sum(1 for r in found if r.day == newest.day) == 1 else None


def definite_first(found: list[Result]) -> Result | None:
    """The oldest result, or None when another result shares its day."""
    oldest = found[0]
    return oldest if sum(1 for r in found if r.day == oldest.day) == 1 else None


def definite_extreme(found: list[Result], highest: bool) -> list[Result] | None:
    """Every result at the highest (lowest) value, or None when they tie on two days or
    state it differently (no one definite reading)."""
    best = max(r.number for r in found) if highest else min(r.number for r in found)
    at = [r for r in found if r.number == best]
    if len({r.day for r in at}) != 1 or len({r.stated for r in at}) != 1:
        return None
    return at


def definite_last_two(found: list[Result]) -> list[Result] | None:
    """The last two results, or None when any of the last three share a day."""
    if len({r.day for r in found[-3:]}) < min(3, len(found)):
        return None
    return found[-2:]


def threshold_hits(
    found: list[Result], direction: str, candidates: tuple[float, ...]
) -> tuple[float, list[Result]]:
    """The first candidate threshold that splits the results (else the last candidate),
    and the results strictly above (``direction`` "above") or below it."""
    threshold, hits = candidates[-1], list[Result]()
    for threshold in candidates:
        if direction == "above":
            hits = [r for r in found if r.number > threshold]
        else:
            hits = [r for r in found if r.number < threshold]
        if 0 < len(hits) < len(found):
            break
    return threshold, hits


def value_answer(result: Result) -> ExpectedAnswer:
    return ExpectedAnswer("value_date", value=result.stated, date=result.day)


def record_text(asker: Asker) -> str:
    """Every word of the record, lower-cased: a "no" is only asked about what is nowhere."""
    if not asker.record_text:
        resources = [r for items in asker.record.by_type.values() for r in items]
        asker.record_text = json.dumps([asker.record.patient, *resources]).lower()
    return asker.record_text


def absent_from_record(asker: Asker, names: tuple[str, ...]) -> list[str]:
    """The ``names`` that appear nowhere in the record: only these may get a "no"."""
    return [n for n in names if n not in record_text(asker)]


def active_disorders(record: PatientRecord) -> list[tuple[str, Resource]]:
    """(name, condition) of active disorders with a short name (a question can say it)."""
    return [
        (n, c)
        for n, c in condition_names(record)
        if "active" in codes_of(c.get("clinicalStatus")) and len(n) < 40
    ]


def yes_no_answer(matched: list[tuple[str, Resource]]) -> tuple[ExpectedAnswer, list[str]]:
    """ "Yes" naming what makes it yes (any one name), or "no"; and the references."""
    items = tuple(dict.fromkeys(ExpectedItem(name) for name, _ in matched))
    answer = ExpectedAnswer("yes_no", value="yes" if matched else "no", items=items)
    return answer, [reference(r) for _, r in matched]


def with_words(
    named: list[tuple[str, Resource]], words: tuple[str, ...]
) -> list[tuple[str, Resource]]:
    """The (name, resource) pairs whose name holds one of ``words`` (ingredients)."""
    return [(n, r) for n, r in named if any(w in n.lower() for w in words)]


def _class_code(visit: Resource) -> Any:
    return (visit.get("class") or {}).get("code")


def _type_name(visit: Resource) -> str:
    return display_of((visit.get("type") or [{}])[0])


def emergency_visits(visits: list[Resource]) -> list[Resource]:
    return [v for v in visits if _class_code(v) == "EMER"]


def inpatient_visits(visits: list[Resource]) -> list[Resource]:
    return [v for v in visits if _class_code(v) in ("IMP", "ACUTE")]


def admission_outside_inpatient(visits: list[Resource]) -> bool:
    """No inpatient-class visit, yet a visit typed as an admission or hospital stay: "was
    she ever admitted" has no one definite answer, so it is not asked."""
    admissions = [
        v for v in visits if any(w in _type_name(v).lower() for w in ("admission", "hospital"))
    ]
    return not inpatient_visits(visits) and bool(admissions)


def inpatient_answer(visits: list[Resource]) -> tuple[ExpectedAnswer, list[str]]:
    """ "Ever admitted?": yes naming the inpatient visits' types, or no."""
    inpatient = inpatient_visits(visits)
    names = dict.fromkeys(clean_name(_type_name(v)) for v in inpatient)
    answer = ExpectedAnswer(
        "yes_no",
        value="yes" if inpatient else "no",
        items=tuple(ExpectedItem(n) for n in names if n),
    )
    return answer, [reference(v) for v in inpatient]


_SMOKING = "72166-2"  # LOINC: tobacco smoking status


def smoking_status(record: PatientRecord) -> tuple[str, Resource] | None:
    """The latest tobacco smoking status and its Observation, or None when there is none
    or two statuses share the latest moment."""
    found = [o for o in record.of("Observation") if _SMOKING in codes_of(o.get("code"))]
    if not found:
        return None
    found.sort(key=moment)
    latest = found[-1]
    status = clean_name(display_of(latest.get("valueCodeableConcept")))
    if not status or sum(1 for o in found if moment(o) == moment(latest)) != 1:
        return None
    return status, latest
