"""Questions with answers computed straight from a patient's FHIR JSON.

Each template asks what a clinician would ask and computes the answer with this
package's own plain-JSON rules (never through ``tools/``), so a replay checks the agent
against the record rather than against itself.  A template yields no question when the
record does not support one definite answer: no such lab, or two different results on
the latest day.

Categories here: demographics, latest lab, lab trend, vitals.  The list-shaped
categories (conditions, medications, allergies, immunizations, encounters, procedures,
counts, notes) live in :mod:`agent.replay.ground_truth_lists`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.replay import ground_truth_lists as lists
from agent.replay.model import ExpectedAnswer, Question, make_question
from agent.replay.record import PatientRecord, Resource, codes_of, day, moment, reference

__all__ = [
    "CATEGORIES",
    "LABS",
    "VITALS",
    "ObservationConcept",
    "generate_questions",
]


@dataclass(frozen=True)
class ObservationConcept:
    """A lab or vital the replay asks about: the words a clinician uses and its LOINC codes."""

    name: str
    codes: frozenset[str]
    components: tuple[str, ...] = ()  # LOINC codes of panel components (blood pressure)


LABS = (
    ObservationConcept("HbA1c", frozenset({"4548-4"})),
    ObservationConcept("LDL cholesterol", frozenset({"18262-6"})),
    ObservationConcept("total cholesterol", frozenset({"2093-3"})),
    ObservationConcept("creatinine", frozenset({"2160-0", "38483-4"})),
    ObservationConcept("eGFR", frozenset({"33914-3"})),
    ObservationConcept("glucose", frozenset({"2339-0", "2345-7"})),
)
VITALS = (
    ObservationConcept("BMI", frozenset({"39156-5"})),
    ObservationConcept("body weight", frozenset({"29463-7"})),
    ObservationConcept("blood pressure", frozenset({"85354-9"}), ("8480-6", "8462-4")),
    ObservationConcept("heart rate", frozenset({"8867-4"})),
)
TREND_POINTS = 3
MAX_TRENDS = 2

CATEGORIES = (
    "demographics",
    "latest_lab",
    "lab_trend",
    "active_conditions",
    "condition_onset",
    "active_medications",
    "medication_start",
    "allergies",
    "immunizations",
    "last_encounter",
    "procedures",
    "vitals",
    "counts",
    "notes",
)


def _demographics(record: PatientRecord) -> list[Question]:
    patient = record.patient
    ref = reference(patient)
    questions: list[Question] = []
    birth = patient.get("birthDate")
    if isinstance(birth, str) and len(birth) >= 10:
        questions.append(
            make_question(
                record.id,
                "demographics",
                "birth_date",
                {},
                "What is the patient's date of birth?",
                ExpectedAnswer("date", date=birth[:10]),
                [ref],
            )
        )
    gender = patient.get("gender")
    if gender in ("female", "male"):
        questions.append(
            make_question(
                record.id,
                "demographics",
                "gender",
                {},
                "What is the patient's gender?",
                ExpectedAnswer("text_contains", value=gender),
                [ref],
            )
        )
    return questions


def _quantity(observation: Resource, component_code: str | None = None) -> float | None:
    if component_code is None:
        value = (observation.get("valueQuantity") or {}).get("value")
    else:
        value = next(
            (
                (c.get("valueQuantity") or {}).get("value")
                for c in observation.get("component") or []
                if component_code in codes_of(c.get("code"))
            ),
            None,
        )
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _stated_value(observation: Resource, concept: ObservationConcept) -> str | None:
    """The value as an answer states it: "7.1", or "112/51" for a panel."""
    if not concept.components:
        value = _quantity(observation)
        return None if value is None else f"{value:g}"
    parts = [_quantity(observation, code) for code in concept.components]
    if any(p is None for p in parts):
        return None
    return "/".join(f"{p:g}" for p in parts if p is not None)


def results_of(record: PatientRecord, concept: ObservationConcept) -> list[Resource]:
    """Final/amended results of ``concept`` that carry a value, oldest first."""
    found = [
        o
        for o in record.of("Observation")
        if codes_of(o.get("code")) & concept.codes
        and o.get("status", "final") in ("final", "amended", "corrected", "preliminary")
        and _stated_value(o, concept) is not None
    ]
    return sorted(found, key=moment)


def _latest(record: PatientRecord, concept: ObservationConcept, category: str) -> Question | None:
    results = results_of(record, concept)
    if not results:
        return None
    newest = results[-1]
    same_day = [r for r in results if day(r) == day(newest)]
    if len({_stated_value(r, concept) for r in same_day}) > 1 or len(same_day) > 1:
        return None  # two results that day: "the most recent" is not one definite value
    value = _stated_value(newest, concept)
    return make_question(
        record.id,
        category,
        "latest_observation",
        {"name": concept.name},
        f"What was the most recent {concept.name} and when?",
        ExpectedAnswer("value_date", value=value, date=day(newest)),
        [reference(newest)],
    )


def _trend(record: PatientRecord, concept: ObservationConcept) -> Question | None:
    results = results_of(record, concept)
    if len(results) < TREND_POINTS or concept.components:
        return None
    last = results[-TREND_POINTS:]
    if len({day(r) for r in last}) < TREND_POINTS:
        return None
    points = tuple((day(r), float(_quantity(r) or 0.0)) for r in last)
    return make_question(
        record.id,
        "lab_trend",
        "observation_trend",
        {"name": concept.name},
        f"How has the patient's {concept.name} changed over time?",
        ExpectedAnswer("series", points=points),
        [reference(r) for r in last],
    )


def _observations(record: PatientRecord) -> list[Question]:
    questions = [q for c in LABS if (q := _latest(record, c, "latest_lab")) is not None]
    trends = [q for c in LABS if (q := _trend(record, c)) is not None]
    questions += trends[:MAX_TRENDS]
    questions += [q for c in VITALS if (q := _latest(record, c, "vitals")) is not None]
    return questions


Generator = Callable[[PatientRecord], list[Question]]


def generate_questions(record: PatientRecord) -> list[Question]:
    """Every templated question the record supports, in a stable order."""
    generators: tuple[Generator, ...] = (
        _demographics,
        _observations,
        lists.conditions,
        lists.medications,
        lists.allergies,
        lists.immunizations,
        lists.encounters,
        lists.procedures,
        lists.notes,
    )
    questions = [q for generate in generators for q in generate(record)]
    order = {name: i for i, name in enumerate(CATEGORIES)}
    return sorted(questions, key=lambda q: order.get(q.category, len(order)))
