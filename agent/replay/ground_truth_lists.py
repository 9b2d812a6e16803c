"""Ground truth for list-shaped and event questions, from plain FHIR JSON.

Conditions, medications, allergies, immunizations, encounters, procedures, counts over
a period and note content.  Same rules as :mod:`agent.replay.ground_truth`: own readers,
no ``tools`` import, and no question unless the record gives one definite answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

from agent.replay.model import ExpectedAnswer, ExpectedItem, Question, make_question
from agent.replay.record import (
    PatientRecord,
    Resource,
    clean_name,
    codes_of,
    day,
    display_of,
    moment,
    note_text,
    reference,
)
from agent.replay.vaccines import FLU_CVX, VACCINE_GROUPS

__all__ = [
    "allergies",
    "conditions",
    "encounters",
    "immunizations",
    "medications",
    "notes",
    "procedures",
]

MAX_ONSET_QUESTIONS = 2
MAX_START_QUESTIONS = 2


def _question(
    record: PatientRecord,
    category: str,
    template: str,
    params: dict[str, str],
    text: str,
    expected: ExpectedAnswer,
    references: list[str],
) -> Question:
    return make_question(record.id, category, template, params, text, expected, references)


def _items(
    resources: list[Resource], name_of: Callable[[Resource], str]
) -> tuple[ExpectedItem, ...]:
    """Distinct names (first spelling wins), in the order given."""
    seen: dict[str, ExpectedItem] = {}
    for resource in resources:
        name = name_of(resource)
        if name and name.lower() not in seen:
            seen[name.lower()] = ExpectedItem(name)
    return tuple(seen.values())


def _condition_name(condition: Resource) -> str:
    return clean_name(display_of(condition.get("code")))


def _is_active(resource: Resource) -> bool:
    status = codes_of(resource.get("clinicalStatus"))
    return "active" in status or "recurrence" in status or "relapse" in status


def conditions(record: PatientRecord) -> list[Question]:
    """Active conditions (an exclusive set) and onset of the longest-standing disorders."""
    active = sorted((c for c in record.of("Condition") if _is_active(c)), key=moment)
    refs = [reference(c) for c in active]
    questions: list[Question] = []
    if active:
        questions.append(
            _question(
                record,
                "active_conditions",
                "active_conditions",
                {},
                "Which conditions are currently active?",
                ExpectedAnswer(
                    "set", items=_items(active, _condition_name), allowed_references=tuple(refs)
                ),
                refs,
            )
        )
    disorders = [c for c in active if "(disorder)" in display_of(c.get("code"))]
    asked: set[str] = set()
    for condition in disorders:
        name = _condition_name(condition)
        if name.lower() in asked or len(asked) >= MAX_ONSET_QUESTIONS:
            continue
        same = sorted(
            (c for c in record.of("Condition") if _condition_name(c).lower() == name.lower()),
            key=moment,
        )
        first = same[0]
        if not day(first):
            continue
        asked.add(name.lower())
        questions.append(
            _question(
                record,
                "condition_onset",
                "condition_onset",
                {"condition": name},
                f"When was {name.lower()} first diagnosed?",
                ExpectedAnswer("date", date=day(first)),
                [reference(first)],
            )
        )
    return questions


def _medication_name(record: PatientRecord, order: Resource) -> str:
    concept = order.get("medicationCodeableConcept")
    if concept is None:
        target = (order.get("medicationReference") or {}).get("reference", "")
        concept = (record.medications.get(str(target)) or {}).get("code")
    return display_of(concept)


def _medication_item(name: str) -> ExpectedItem:
    """The drug's name, with its brand ("[Humulin]") accepted as well."""
    brand = re.search(r"\[([^\]]+)\]", name)
    return ExpectedItem(name, (brand.group(1),) if brand else ())


def medications(record: PatientRecord) -> list[Question]:
    """Current medications (an exclusive set) and when current drugs were first ordered."""
    orders = sorted(record.of("MedicationRequest"), key=moment)
    active = [o for o in orders if o.get("status") == "active"]
    if not active:
        return []
    refs = [reference(o) for o in active]
    names = _items(active, partial(_medication_name, record))
    questions = [
        _question(
            record,
            "active_medications",
            "active_medications",
            {},
            "Which medications is the patient currently taking?",
            ExpectedAnswer(
                "set",
                items=tuple(_medication_item(item.name) for item in names),
                allowed_references=tuple(refs),
            ),
            refs,
        )
    ]
    asked: set[str] = set()
    for order in active:
        name = _medication_name(record, order)
        if not name or name.lower() in asked or len(asked) >= MAX_START_QUESTIONS:
            continue
        asked.add(name.lower())
        first = next(o for o in orders if _medication_name(record, o).lower() == name.lower())
        questions.append(
            _question(
                record,
                "medication_start",
                "medication_start",
                {"medication": name},
                f"When was {name} first prescribed?",
                ExpectedAnswer("date", date=day(first)),
                [reference(first)],
            )
        )
    return questions


def allergies(record: PatientRecord) -> list[Question]:
    """Active allergies; none recorded is asked too and must be answered as none."""
    active = [
        a
        for a in record.of("AllergyIntolerance")
        if not codes_of(a.get("clinicalStatus")) or _is_active(a)
    ]
    refs = [reference(a) for a in sorted(active, key=moment)]
    return [
        _question(
            record,
            "allergies",
            "active_allergies",
            {},
            "Does the patient have any allergies?",
            ExpectedAnswer(
                "set",
                items=_items(active, lambda a: clean_name(display_of(a.get("code")))),
                allowed_references=tuple(refs),
            ),
            refs,
        )
    ]


def vaccine_item(immunization: Resource) -> ExpectedItem:
    codes = codes_of(immunization.get("vaccineCode"))
    for cvx, names in VACCINE_GROUPS:
        if codes & cvx:
            return ExpectedItem(names[0], names[1:])
    return ExpectedItem(display_of(immunization.get("vaccineCode")).split(",")[0])


def immunizations(record: PatientRecord) -> list[Question]:
    """The vaccines received (by group) and the date of the last influenza vaccine."""
    given = sorted(
        (i for i in record.of("Immunization") if i.get("status", "completed") == "completed"),
        key=moment,
    )
    if not given:
        return []
    groups: dict[str, ExpectedItem] = {}
    for immunization in given:
        item = vaccine_item(immunization)
        groups.setdefault(item.name.lower(), item)
    questions = [
        _question(
            record,
            "immunizations",
            "immunization_history",
            {},
            "Which vaccines has the patient received?",
            ExpectedAnswer("set", items=tuple(groups.values())),
            [reference(i) for i in given],
        )
    ]
    flu = [i for i in given if codes_of(i.get("vaccineCode")) & FLU_CVX]
    if flu and sum(day(i) == day(flu[-1]) for i in flu) == 1:
        questions.append(
            _question(
                record,
                "immunizations",
                "last_flu_vaccine",
                {},
                "When was the last influenza vaccine?",
                ExpectedAnswer("date", date=day(flu[-1])),
                [reference(flu[-1])],
            )
        )
    return questions


def encounters(record: PatientRecord) -> list[Question]:
    """The last encounter's date, and how many encounters fell in one calendar year."""
    visits = sorted((e for e in record.of("Encounter") if day(e)), key=moment)
    if not visits:
        return []
    questions: list[Question] = []
    newest = visits[-1]
    if sum(moment(e) == moment(newest) for e in visits) == 1:
        questions.append(
            _question(
                record,
                "last_encounter",
                "last_encounter",
                {},
                "When was the patient's last encounter?",
                ExpectedAnswer("date", date=day(newest)),
                [reference(newest)],
            )
        )
    last_year = int(day(newest)[:4])
    years = sorted({int(day(e)[:4]) for e in visits})
    year = max((y for y in years if y < last_year), default=last_year)
    in_year = [e for e in visits if day(e).startswith(str(year))]
    questions.append(
        _question(
            record,
            "counts",
            "encounters_in_year",
            {"year": str(year)},
            f"How many encounters did the patient have in {year}?",
            ExpectedAnswer("count", value=float(len(in_year))),
            [reference(e) for e in in_year],
        )
    )
    return questions


def procedures(record: PatientRecord) -> list[Question]:
    """What was done on the most recent day with a procedure (names and date)."""
    done = sorted(
        (p for p in record.of("Procedure") if day(p) and p.get("status") != "not-done"),
        key=moment,
    )
    if not done:
        return []
    latest_day = day(done[-1])
    that_day = [p for p in done if day(p) == latest_day]
    return [
        _question(
            record,
            "procedures",
            "latest_procedures",
            {},
            "What was the patient's most recent procedure, and when was it done?",
            ExpectedAnswer(
                "set",
                date=latest_day,
                items=_items(that_day, lambda p: clean_name(display_of(p.get("code")))),
            ),
            [reference(p) for p in that_day],
        )
    ]


def _keyword_candidates(record: PatientRecord) -> list[str]:
    """Distinctive words to ask a note about: current drugs first, then active problems."""
    names = [
        _medication_name(record, o)
        for o in record.of("MedicationRequest")
        if o.get("status") == "active"
    ]
    names += [_condition_name(c) for c in record.of("Condition") if _is_active(c)]
    words: list[str] = []
    for name in names:
        match = re.search(r"[A-Za-z]{6,}", name)
        if match and match.group(0).lower() not in words:
            words.append(match.group(0).lower())
    return words


def notes(record: PatientRecord) -> list[Question]:
    """What the most recent note says about a drug or problem it mentions."""
    documents = sorted((d for d in record.of("DocumentReference") if day(d)), key=moment)
    if not documents:
        return []
    newest = documents[-1]
    if sum(moment(d) == moment(newest) for d in documents) > 1:
        return []
    text = note_text(newest).lower()
    keyword = next(
        (w for w in _keyword_candidates(record) if re.search(rf"\b{re.escape(w)}\b", text)),
        None,
    )
    if keyword is None:
        return []
    return [
        _question(
            record,
            "notes",
            "note_mentions",
            {"keyword": keyword},
            f"What does the most recent note say about {keyword}?",
            ExpectedAnswer("text_contains", value=keyword, date=day(newest)),
            [reference(newest)],
        )
    ]
