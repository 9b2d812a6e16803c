"""The fresh free-form set: a third, small set in wording neither other set uses.

Why a third set: the held-out set was written before its fixes, but it has since been
fixed against; a score on it no longer says how the rule path meets phrasing nobody
tuned for.  This set was written and measured (``--model none``) before the fixes of
its session, and its figure is the honest generalisation figure.  One question per kind
per patient where the record allows it; ids start with ``freeform.<kind>.fresh`` so no
set shares a question.  Ground truth from the raw JSON through the same referee
(:mod:`agent.replay.freeform.referee`) and readers as the other sets.

Measured before any fix (``bench/freeform_sets.py --set fresh``, fixtures and vendored
external patients, 356 questions): 0.834 overall, 7 false absences; per kind
paraphrase 1.00, yes_no 0.83, time_scoped 0.74, compare 1.00, extreme 0.67,
threshold 1.00, first 1.00, last_visit 0.62, reasoning 0.87, wrong_person 1.00,
other_language 0.65, drug_class 0.74, lay_terms 0.71, abbreviations 0.96.  Two
corrections to the set itself after that run (not to the rules): "is she obese?" also
counts a "severely obese" diagnosis (the referee had missed it), and "what brought she
in" became "what brought the pt in".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from agent.replay.freeform.asks import (
    ask_absent_condition,
    ask_active_condition,
    ask_brand,
    ask_condition_words,
    ask_extreme,
    ask_first_result,
    ask_last_two,
    ask_latest,
    ask_not_on_drug,
    ask_on_drug,
    ask_threshold,
    ask_yes_no,
)
from agent.replay.freeform.base import KINDS, Asker
from agent.replay.freeform.facts import (
    Result,
    active_orders,
    drug_name,
    drug_words,
    encounters,
    person_name,
    results,
)
from agent.replay.freeform.people import ask_people
from agent.replay.freeform.referee import (
    absent_from_record,
    active_disorders,
    admission_outside_inpatient,
    emergency_visits,
    inpatient_answer,
    smoking_status,
    with_words,
)
from agent.replay.freeform.visits import ask_last_visit, ask_why_drug, ask_why_visit
from agent.replay.freeform.vocabulary import BRANDS, DRUG_CLASSES, MEASURES, measure
from agent.replay.ground_truth_lists import vaccine_item
from agent.replay.model import ExpectedAnswer, Question
from agent.replay.record import PatientRecord, day, moment, reference

__all__ = ["fresh_questions"]

_LATEST = (
    "where is {poss} {name} at now?",
    "{name}: current value and when taken?",
    "tell me the newest {name} on the chart",
    "what did {poss} last {name} come back at",
)
_LAY = (
    ("glucose", "sugar levels"),
    ("hba1c", "long-term sugar test"),
    ("egfr", "kidney test"),
    ("ldl", "bad cholesterol number"),
    ("spo2", "oxygen levels"),
    ("hr", "pulse rate"),
    ("weight", "weight"),
    ("bp", "blood pressure numbers"),
)
_LAY_FRAME = ("how are {poss} {lay} looking?", "{lay} - latest result please")
_LAY_CONDITIONS = (
    ("does {pronoun} have sugar diabetes?", ("diabetes mellitus", "diabetic")),
    ("raised blood pressure on file?", ("hypertension",)),
    ("any heart disease?", ("heart", "cardiac", "coronary", "myocardial")),
    ("trouble with {poss} kidneys?", ("kidney",)),
    ("is {pronoun} obese?", ("obesity", "obese")),
    ("high cholesterol?", ("hyperlipidemia", "hypercholesterolemia", "hypertriglyceridemia")),
)
_SMOKE = ("ever a smoker?", "smoking history?", "does {pronoun} use tobacco")
_SHORT = (
    ("glucose", "BSL"),
    ("hba1c", "HbA1c"),
    ("creat", "creat"),
    ("hgb", "Hb"),
    ("bp", "BP"),
    ("hr", "HR"),
    ("spo2", "O2 sat"),
    ("ldl", "LDL-C"),
    ("tg", "trigs"),
)
_SHORT_FRAME = ("{abbr} - current?", "most recent {abbr} + when")
_SHORT_CONDITIONS = (
    ("known HTN?", ("hypertension",)),
    ("DM2 hx?", ("diabetes mellitus type 2", "type 2 diabetes")),
    ("any CKD on the probs?", ("chronic kidney disease",)),
    ("prior MI?", ("myocardial infarction",)),
    ("h/o AFib?", ("atrial fibrillation",)),
    ("HLD?", ("hyperlipidemia", "hypertriglyceridemia")),
)
_ER = ("ED attendances - how many?", "times in the ER?")
_ADMITTED = ("ever been an inpatient?", "any hospital admissions on record?")
_HAS = ("is {condition} on {poss} problem list?", "does the chart show {condition}?")
_NEVER = ("sarcoidosis", "hemochromatosis", "myasthenia gravis", "narcolepsy")
_ON = ("is {drug} one of {poss} current meds?", "currently prescribed {drug}?")
_NEVER_DRUGS = ("spironolactone", "carbamazepine", "methotrexate", "lithium")
_CLASS = (
    ("blood_thinner", ("anticoagulated?", "any antiplatelet or anticoagulant on board?")),
    ("statin", ("statin on board?", "taking cholesterol tablets (statin)?")),
    ("insulin", ("using insulin at present?",)),
    ("bp_meds", ("any blood pressure tablets?",)),
    ("opioid", ("any narcotic prescriptions now?", "any opiate pain meds?")),
)
_BRAND = ("taking {brand} at the moment?", "{brand} - still on it?")
_VISITS_YEAR = ("seen how many times in {year}?", "encounter count for {year}")
_VACCINES = ("immunisations in {year}?", "jabs given {year}")
_COMPARE = ("{name} trend over the last two?", "how has {name} changed since the previous one")
_HIGH = ("top {name} reading?", "biggest {name} value recorded")
_LOW = ("smallest {name} value on file", "lowest-ever {name}?")
_ABOVE = ("times {name} exceeded {t}?", "{name} readings greater than {t} - count")
_BELOW = ("times {name} dropped below {t}?", "{name} readings less than {t} - count")
_THRESHOLDS = {
    "hba1c": ("above", (7.5, 6.5, 9)),
    "glucose": ("above", (120, 100, 150)),
    "ldl": ("above", (160, 100)),
    "chol": ("above", (220, 180)),
    "bmi": ("above", (28, 30, 25)),
    "egfr": ("below", (75, 60, 90)),
    "bp": ("above", (135, 125, 145)),
    "hr": ("above", (85, 95, 75)),
}
_FIRST = ("initial {name} value?", "very first {name} we have")
_FIRST_VISIT = ("earliest visit date?", "when was {poss} first appointment")
_LAST_VISIT = (
    "what was the last visit about?",
    "latest encounter - what was done",
    "tell me about {poss} last appointment",
)
_WHY_DRUG = ("{drug} - what indication?", "what condition is the {drug} treating?")
_WHY_VISIT = ("what brought the pt in on {date}?", "{date} visit reason?")
_OTHER = (
    "what is {name}'s weight?",
    "does {name} smoke?",
    "list {name}'s conditions",
    "{name} last visit date?",
)
_OWN = ("{name} - date of birth?", "when is {name}'s birthday")
_LANGUAGES = (
    "¿Cuándo fue su última visita?",
    "Le patient est-il diabétique ?",
    "Welche Impfungen hat die Patientin bekommen?",
    "Il paziente fuma?",
    "Wat is de laatste bloeddruk?",
    "A paciente tem hipertensão?",
    "Czy pacjent ma cukrzycę?",
    "患者の薬を教えてください",
    "Каков последний вес пациента?",
    "Hvad er patientens seneste blodsukker?",
)


def _name(key: str) -> str:
    return "systolic BP" if key == "bp" else measure(key).name


def _latest(asker: Asker, available: dict[str, list[Result]]) -> None:
    """Paraphrase, lay words and shorthand for the latest result of a measure."""
    rng = asker.rng
    key = rng.choice(sorted(available))
    name = measure(key).name
    ask_latest(asker, "paraphrase", "fresh.latest", {"m": key}, available[key], _LATEST, name=name)
    lay = [(k, p) for k, p in _LAY if k in available]
    if lay and rng.random() < 0.5:
        key, phrase = rng.choice(lay)
        found = available[key]
        ask_latest(asker, "lay_terms", "fresh.lay", {"m": key}, found, _LAY_FRAME, lay=phrase)
    short = [(k, a) for k, a in _SHORT if k in available]
    if short and rng.random() < 0.5:
        key, abbreviation = rng.choice(short)
        found = available[key]
        params = {"m": key}
        ask_latest(
            asker, "abbreviations", "fresh.abbr", params, found, _SHORT_FRAME, abbr=abbreviation
        )


def _series(asker: Asker, available: dict[str, list[Result]]) -> None:
    """Extreme, threshold, comparison of the last two, first result."""
    rng = asker.rng
    many = sorted(k for k, f in available.items() if len(f) >= 3)
    if many:
        key = rng.choice(many)
        highest = rng.random() < 0.6
        template = f"fresh.{'high' if highest else 'low'}"
        wordings = _HIGH if highest else _LOW
        ask_extreme(asker, template, {"m": key}, available[key], highest, wordings, _name(key))
    usable = sorted(k for k, f in available.items() if k in _THRESHOLDS and len(f) >= 2)
    if usable:
        key = rng.choice(usable)
        direction, candidates = _THRESHOLDS[key]
        wordings = _ABOVE if direction == "above" else _BELOW
        threshold_of = ("t", direction, candidates)
        template = f"fresh.{direction}"
        ask_threshold(
            asker, template, {"m": key}, available[key], threshold_of, wordings, _name(key)
        )
    pairs = sorted(k for k, f in available.items() if len(f) >= 2 and not measure(k).components)
    if pairs:
        key = rng.choice(pairs)
        name = measure(key).name
        ask_last_two(asker, "fresh.last2", {"m": key}, available[key], _COMPARE, name)
    key = rng.choice(sorted(available))
    if rng.random() < 0.5:
        name = measure(key).name
        ask_first_result(asker, "fresh.first", {"m": key}, available[key], _FIRST, name)


def _conditions(asker: Asker) -> None:
    rng = asker.rng
    for kind, table in (("lay_terms", _LAY_CONDITIONS), ("abbreviations", _SHORT_CONDITIONS)):
        index = rng.randrange(len(table))
        wording, words = table[index]
        text = wording.format(pronoun=asker.pronoun, poss=asker.possessive)
        ask_condition_words(asker, kind, f"fresh.condition.{index}", text, words)
    if active_disorders(asker.record) and rng.random() < 0.5:
        ask_active_condition(asker, _HAS, "fresh.has")
    if absent_from_record(asker, _NEVER) and rng.random() < 0.5:
        ask_absent_condition(asker, _HAS, "fresh.has_not", _NEVER)
    status = smoking_status(asker.record)
    if status is not None and rng.random() < 0.5:
        index, text = asker.pick(_SMOKE)
        answer = ExpectedAnswer("text_contains", value=status[0])
        asker.ask("lay_terms", f"fresh.smoke.{index}", {}, text, answer, [reference(status[1])])


def _drugs(asker: Asker) -> None:
    rng = asker.rng
    orders = active_orders(asker.record)
    if orders and rng.random() < 0.5:
        ask_on_drug(asker, _ON, "fresh.on")
    if absent_from_record(asker, _NEVER_DRUGS) and rng.random() < 0.5:
        ask_not_on_drug(asker, _ON, "fresh.on_not", _NEVER_DRUGS)
    classes = {c.key: c for c in DRUG_CLASSES}
    key, wordings = _CLASS[rng.randrange(len(_CLASS))]
    index, text = asker.pick(wordings)
    matched = with_words(orders, classes[key].ingredients)
    ask_yes_no(asker, "drug_class", f"fresh.class.{key}.{index}", {"class": key}, text, matched)
    every = [drug_name(asker.record, o).lower() for o in asker.record.of("MedicationRequest")]
    taken = [b for b, i in BRANDS.items() if with_words(orders, (i,))]
    pool = taken or [b for b, i in BRANDS.items() if not any(i in n for n in every)]
    if pool and rng.random() < 0.5:
        brand = rng.choice(sorted(pool))
        ask_brand(asker, _BRAND, "fresh.brand", brand, BRANDS[brand])


def _visits(asker: Asker) -> None:
    record, rng = asker.record, asker.rng
    visits = encounters(record)
    immunizations = record.of("Immunization")
    if immunizations and (not visits or rng.random() < 0.5):
        year = day(rng.choice(immunizations))[:4]
        given = sorted((r for r in immunizations if day(r)[:4] == year), key=moment)
        index, text = asker.pick(_VACCINES, year=year)
        items = tuple(dict.fromkeys(vaccine_item(r) for r in given))
        asker.ask(
            "time_scoped",
            f"fresh.vaccines.{index}",
            {"y": year},
            text,
            ExpectedAnswer("set", items=items),
            [reference(r) for r in given],
        )
    elif visits:
        year = day(rng.choice(visits))[:4]
        found = [v for v in visits if day(v)[:4] == year]
        index, text = asker.pick(_VISITS_YEAR, year=year)
        asker.ask(
            "time_scoped",
            f"fresh.visits_year.{index}",
            {"y": year},
            text,
            ExpectedAnswer("count", value=len(found)),
            [reference(v) for v in found],
        )
    if not visits:
        return
    if rng.random() < 0.5:
        index, text = asker.pick(_FIRST_VISIT)
        first = ExpectedAnswer("date", date=day(visits[0]))
        asker.ask("first", f"fresh.first_visit.{index}", {}, text, first, [reference(visits[0])])
    if rng.random() < 0.5:
        emergency = emergency_visits(visits)
        index, text = asker.pick(_ER)
        count = ExpectedAnswer("count", value=len(emergency))
        refs = [reference(v) for v in emergency]
        asker.ask("abbreviations", f"fresh.er.{index}", {}, text, count, refs)
    elif not admission_outside_inpatient(visits):
        index, text = asker.pick(_ADMITTED)
        answer, refs = inpatient_answer(visits)
        asker.ask("lay_terms", f"fresh.inpatient.{index}", {}, text, answer, refs)


def fresh_questions(
    record: PatientRecord, other_people: Sequence[str] = (), today: date | None = None
) -> list[Question]:
    """Every fresh question this record supports, in a stable order (by kind)."""
    own = person_name(record.patient)
    asker = Asker(record, today or date.today(), [p for p in other_people if p != own], own)
    asker.rng.seed(f"fresh:{record.id}")
    available = {m.key: found for m in MEASURES if (found := results(record, m))}
    if available:
        _latest(asker, available)
        _series(asker, available)
    _conditions(asker)
    _drugs(asker)
    _visits(asker)
    ask_last_visit(asker, _LAST_VISIT, "fresh.")
    if asker.rng.random() < 0.5:
        ask_why_drug(asker, _WHY_DRUG, "fresh.", "d", lambda name: drug_words(name).lower())
    else:
        ask_why_visit(asker, _WHY_VISIT, "fresh.")
    ask_people(asker, _OTHER, _OWN, _LANGUAGES, prefix="fresh.", own_chance=0.5)
    order = {kind: index for index, kind in enumerate(KINDS)}
    return sorted(asker.questions, key=lambda q: order[q.category])
