"""Free-form questions about time and visits: periods, firsts, the last visit, reasons.

Counts over a period use the resource's own day against the window's first and last
day, the same inclusive reading a clinician means by "in 2019".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from agent.replay.freeform.base import Asker
from agent.replay.freeform.facts import (
    condition_names,
    drug_name,
    drug_words,
    encounters,
    results,
)
from agent.replay.freeform.referee import (
    admission_outside_inpatient,
    emergency_visits,
    inpatient_answer,
)
from agent.replay.freeform.vocabulary import MEASURES
from agent.replay.ground_truth_lists import vaccine_item
from agent.replay.model import ExpectedAnswer, ExpectedItem
from agent.replay.record import Resource, clean_name, day, display_of, moment, reference

__all__ = ["visit_questions"]

_VACCINES_IN = ("what vaccines did {pronoun} get in {year}", "immunizations given in {year}?")
_VISITS_IN = (
    "How many visits did {pronoun} have in {year}?",
    "number of encounters in {year}",
    "how many times was {pronoun} seen in {year}?",
)
_VISITS_BETWEEN = ("how many encounters between {start} and {end}?",)
_VISITS_RECENT = ("how many visits this yr?", "how many encounters in the last 6 months?")
_PRESCRIBED_IN = ("What was prescribed in {year}?", "meds ordered in {year}?")
_SINCE = ("{name} results since {year}", "all {name} values since {year}?")
_FIRST_VISIT = (
    "When was {poss} first encounter?",
    "first visit on record?",
    "date of the earliest encounter",
)
_DIAGNOSED = ("When was {pronoun} diagnosed with {condition}?", "{condition} - when diagnosed?")
_LAST_VISIT = (
    "What happened at the last visit?",
    "what was done at {poss} most recent appointment?",
    "summarize the last encounter",
    "last visit - what happened?",
)
_WHY_DRUG = ("Why is {pronoun} on {drug}?", "what is the {drug} for?", "reason for {drug}?")
_WHY_VISIT = ("Why was {pronoun} seen on {date}?", "reason for the visit on {date}?")
_HOSPITAL = ("Has the patient ever been hospitalized?", "was {pronoun} ever admitted?")
_ER = ("how many ER visits?", "number of ED visits on record?")
_MAX_SET = 6


def _in_year(resources: list[Resource], year: int) -> list[Resource]:
    return [r for r in resources if day(r)[:4] == str(year)]


def _periods(asker: Asker) -> None:
    record, rng = asker.record, asker.rng
    visits = encounters(record)
    choices: list[str] = []
    immunizations = record.of("Immunization")
    if immunizations:
        choices.append("vaccines")
    if visits:
        choices += ["visits", "between", "recent"]
    if record.of("MedicationRequest"):
        choices.append("prescribed")
    choices.append("since")
    for choice in rng.sample(choices, min(2, len(choices))):
        if choice == "vaccines":
            year = int(day(rng.choice(immunizations))[:4])
            given = sorted(_in_year(immunizations, year), key=moment)
            vaccines = tuple(dict.fromkeys(vaccine_item(r) for r in given))
            index, text = asker.pick(_VACCINES_IN, year=year)
            asker.ask(
                "time_scoped",
                f"vaccines_in.{index}",
                {"year": year},
                text,
                ExpectedAnswer("set", items=vaccines),
                [reference(r) for r in given],
            )
        elif choice == "visits":
            year = int(day(rng.choice(visits))[:4])
            found = _in_year(visits, year)
            index, text = asker.pick(_VISITS_IN, year=year)
            asker.ask(
                "time_scoped",
                f"visits_in.{index}",
                {"year": year},
                text,
                ExpectedAnswer("count", value=len(found)),
                [reference(r) for r in found],
            )
        elif choice == "between":
            first, last = int(day(visits[0])[:4]), int(day(visits[-1])[:4])
            start = rng.randint(first, last)
            end = min(last, start + rng.randint(1, 3))
            found = [r for r in visits if str(start) <= day(r)[:4] <= str(end)]
            index, text = asker.pick(_VISITS_BETWEEN, start=start, end=end)
            asker.ask(
                "time_scoped",
                f"visits_between.{index}",
                {"start": start, "end": end},
                text,
                ExpectedAnswer("count", value=len(found)),
                [reference(r) for r in found],
            )
        elif choice == "recent":
            index, text = asker.pick(_VISITS_RECENT)
            since = (
                f"{asker.today.year}-01-01"
                if index == 0
                else (asker.today - timedelta(days=180)).isoformat()
            )
            found = [r for r in visits if since <= day(r) <= asker.today.isoformat()]
            asker.ask(
                "time_scoped",
                f"visits_recent.{index}",
                {"since": since},
                text,
                ExpectedAnswer("count", value=len(found)),
                [reference(r) for r in found],
            )
        elif choice == "prescribed":
            orders = record.of("MedicationRequest")
            year = int(day(rng.choice(orders))[:4])
            found = sorted(_in_year(orders, year), key=moment)
            names = dict.fromkeys(drug_name(record, o) for o in found)
            if len(names) > _MAX_SET:
                continue
            index, text = asker.pick(_PRESCRIBED_IN, year=year)
            asker.ask(
                "time_scoped",
                f"prescribed_in.{index}",
                {"year": year},
                text,
                ExpectedAnswer("set", items=tuple(ExpectedItem(n) for n in names if n)),
                [reference(r) for r in found],
            )
        else:
            available = [(m, f) for m in MEASURES if len(f := results(record, m)) >= 2]
            if not available:
                continue
            measure, series = rng.choice(available)
            if measure.components:
                continue
            year = int(series[-min(len(series), 4)].day[:4])
            points = [r for r in series if r.day[:4] >= str(year)]
            if len(points) > _MAX_SET or len({r.day for r in points}) != len(points):
                continue
            index, text = asker.pick(_SINCE, name=measure.name, year=year)
            asker.ask(
                "time_scoped",
                f"since.{index}",
                {"measure": measure.key, "year": year},
                text,
                ExpectedAnswer("series", points=tuple((r.day, r.number) for r in points)),
                [r.reference for r in points],
            )


def _firsts(asker: Asker) -> None:
    visits = encounters(asker.record)
    if asker.rng.random() < 0.5 and visits:
        index, text = asker.pick(_FIRST_VISIT)
        asker.ask(
            "first",
            f"first_visit.{index}",
            {},
            text,
            ExpectedAnswer("date", date=day(visits[0])),
            [reference(visits[0])],
        )
        return
    disorders = condition_names(asker.record)
    by_name: dict[str, list[Resource]] = {}
    for name, condition in disorders:
        by_name.setdefault(name, []).append(condition)
    if not by_name:
        return
    name = asker.rng.choice(sorted(by_name))
    onset = by_name[name][0]
    index, text = asker.pick(_DIAGNOSED, condition=name.lower())
    asker.ask(
        "first",
        f"diagnosed.{index}",
        {"condition": name},
        text,
        ExpectedAnswer("date", date=day(onset)),
        [reference(onset)],
    )


def ask_last_visit(asker: Asker, wordings: tuple[str, ...], prefix: str = "") -> None:
    """ "What happened at the last visit": its type and the procedures attached to it."""
    visits = encounters(asker.record)
    if not visits or (len(visits) > 1 and moment(visits[-1]) == moment(visits[-2])):
        return
    last = visits[-1]
    kind = clean_name(display_of((last.get("type") or [{}])[0]))
    target = reference(last)
    attached = [
        p
        for p in asker.record.of("Procedure")
        if (p.get("encounter") or {}).get("reference") == target
    ]
    names = dict.fromkeys([kind, *(clean_name(display_of(p.get("code"))) for p in attached)])
    items = tuple(ExpectedItem(n) for n in list(names)[:3] if n)
    index, text = asker.pick(wordings)
    asker.ask(
        "last_visit",
        f"{prefix}last_visit.{index}",
        {},
        text,
        ExpectedAnswer("set", items=items, date=day(last)),
        [target, *(reference(p) for p in attached)],
    )


def ask_why_drug(
    asker: Asker,
    wordings: tuple[str, ...],
    prefix: str = "",
    param: str = "drug",
    spoken: Callable[[str], str] = drug_words,
) -> None:
    """ "Why is she on X": the Condition an order names in ``reasonReference``."""
    record = asker.record
    conditions = {reference(c): c for c in record.of("Condition")}
    reasoned: dict[str, tuple[Resource, Resource]] = {}
    for order in sorted(record.of("MedicationRequest"), key=moment, reverse=True):
        targets = [r.get("reference") for r in order.get("reasonReference") or []]
        found = [conditions[t] for t in targets if t in conditions]
        name = drug_name(record, order)
        if found and name:
            reasoned.setdefault(name, (order, found[0]))
    if not reasoned:
        return
    name = asker.rng.choice(sorted(reasoned))
    order, condition = reasoned[name]
    index, text = asker.pick(wordings, drug=spoken(name))
    reason = clean_name(display_of(condition.get("code")))
    asker.ask(
        "reasoning",
        f"{prefix}why_drug.{index}",
        {param: name},
        text,
        ExpectedAnswer("set", items=(ExpectedItem(reason),)),
        [reference(order), reference(condition)],
    )


def ask_why_visit(asker: Asker, wordings: tuple[str, ...], prefix: str = "") -> None:
    """ "Why was she seen on D": the reason of the only visit that day."""
    visits = encounters(asker.record)
    days = [day(v) for v in visits]
    unique = [v for v in visits if v.get("reasonCode") and days.count(day(v)) == 1]
    if not unique:
        return
    visit = asker.rng.choice(unique)
    reason = clean_name(display_of(visit["reasonCode"][0]))
    index, text = asker.pick(wordings, date=day(visit))
    asker.ask(
        "reasoning",
        f"{prefix}why_visit.{index}",
        {"date": day(visit)},
        text,
        ExpectedAnswer("set", items=(ExpectedItem(reason),)),
        [reference(visit)],
    )


def _encounter_classes(asker: Asker) -> None:
    visits = encounters(asker.record)
    index, text = asker.pick(_HOSPITAL)
    if not admission_outside_inpatient(visits):
        # (An "admission" outside the inpatient class has no one definite answer.)
        answer, references = inpatient_answer(visits)
        asker.ask("lay_terms", f"hospitalized.{index}", {}, text, answer, references)
    emergency = emergency_visits(visits)
    index, text = asker.pick(_ER)
    asker.ask(
        "abbreviations",
        f"er_visits.{index}",
        {},
        text,
        ExpectedAnswer("count", value=len(emergency)),
        [reference(v) for v in emergency],
    )


def visit_questions(asker: Asker) -> None:
    """Periods, firsts, the last visit, reasons, and encounter classes in lay words."""
    _periods(asker)
    _firsts(asker)
    ask_last_visit(asker, _LAST_VISIT)
    ask_why_drug(asker, _WHY_DRUG)
    ask_why_visit(asker, _WHY_VISIT)
    _encounter_classes(asker)
