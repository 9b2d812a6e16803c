"""The held-out set's asks about conditions, orders, visits, periods and people.

Fresh wordings for the asks of :mod:`agent.replay.freeform.clinical`,
:mod:`~agent.replay.freeform.visits` and :mod:`~agent.replay.freeform.people`, plus
purpose phrasing ("meds for her sugar": the drug class for that indication).  Ground
truth from the raw JSON through the referee's readers, as the main set's.
"""

from __future__ import annotations

from datetime import timedelta

from agent.replay.freeform.asks import (
    ask_absent_condition,
    ask_active_condition,
    ask_brand,
    ask_condition_words,
    ask_not_on_drug,
    ask_on_drug,
    ask_yes_no,
)
from agent.replay.freeform.base import Asker
from agent.replay.freeform.facts import (
    active_orders,
    condition_names,
    drug_name,
    drug_words,
    encounters,
)
from agent.replay.freeform.referee import (
    admission_outside_inpatient,
    emergency_visits,
    inpatient_answer,
    with_words,
)
from agent.replay.freeform.visits import ask_last_visit, ask_why_drug, ask_why_visit
from agent.replay.freeform.vocabulary import BRANDS, DRUG_CLASSES
from agent.replay.ground_truth_lists import vaccine_item
from agent.replay.model import ExpectedAnswer, ExpectedItem
from agent.replay.record import Resource, day, moment, reference

__all__ = ["heldout_visit_questions"]

_LAY_CONDITIONS = (
    ("sugar problems?", ("diabetes mellitus", "prediabetes", "diabetic")),
    ("any heart trouble?", ("heart", "cardiac", "coronary", "myocardial")),
    ("does {pronoun} have kidney disease", ("kidney",)),
    ("high BP problem?", ("hypertension",)),
    ("is {pronoun} overweight?", ("obesity", "overweight", "obese", "body mass index 30")),
)
_SHORT_CONDITIONS = (
    ("h/o HTN?", ("hypertension",)),
    ("T2DM?", ("diabetes mellitus type 2", "type 2 diabetes")),
    ("CKD hx?", ("chronic kidney disease",)),
    ("hx CAD?", ("coronary",)),
    ("OA?", ("osteoarthritis",)),
    ("pt w/ AF?", ("atrial fibrillation",)),
)
_HAS = ("{condition}? y/n", "is there a dx of {condition}", "known {condition}?", "hx {condition}?")
_NEVER = ("glaucoma", "migraine", "hypothyroidism", "psoriasis", "celiac")
_ON = (
    "still taking {drug}?",
    "{drug} on the med list?",
    "on {drug} atm?",
    "is {pronoun} on {drug}",
)
_NEVER_DRUGS = ("furosemide", "prednisone", "tamsulosin", "citalopram", "allopurinol")
_CLASS = (
    ("blood_thinner", ("any anticoagulants?", "on a blood thinner?", "anticoag?")),
    ("statin", ("on a statin?", "statins?", "is {pronoun} on any statin")),
    ("opioid", ("any opioids on the list?", "narcotics?", "on opiates?")),
    ("bp_meds", ("on antihypertensives?", "any BP meds?")),
)
# Purpose phrasing: what the drug is for, said the way a clinician asks.
_PURPOSE = (
    ("diabetes", "meds for {poss} sugar?"),
    ("diabetes", "what is {pronoun} taking for {poss} diabetes"),
    ("bp_meds", "what is {pronoun} taking for {poss} pressure?"),
    ("bp_meds", "meds for HTN?"),
    ("statin", "anything for {poss} cholesterol?"),
)
_DIABETES_DRUGS = (
    "metformin",
    "insulin",
    "glipizide",
    "glyburide",
    "glimepiride",
    "sitagliptin",
    "linagliptin",
    "liraglutide",
    "semaglutide",
    "dulaglutide",
    "empagliflozin",
    "canagliflozin",
    "dapagliflozin",
    "pioglitazone",
    "exenatide",
)
_BRAND = ("still on {brand}?", "{brand}?", "does {pronoun} take {brand} still")
_VISITS_YEAR = ("how many appts in {year}", "# encounters {year}?", "visits in {year} - how many")
_VISITS_SINCE = ("how many visits since {year}?", "encounters since {year} count")
_VISITS_PAST = ("how many visits in the past 12 months?", "# of encounters in the last yr")
_VACCINES = ("shots given in {year}?", "which immunizations in {year}", "vaccines {year}?")
_STARTED = ("what meds were started in {year}?", "new prescriptions {year}?")
_FIRST_VISIT = ("when did {pronoun} first come in", "first ever encounter date?", "1st visit?")
_DIAGNOSED = (
    "when was {condition} first dx'd?",
    "date of {condition} diagnosis",
    "onset of {condition}?",
)
_LAST_VISIT = (
    "what happened last appt",
    "most recent enc - details?",
    "recap of last visit pls",
    "what did they do at the last encounter",
)
_WHY_DRUG = ("what's the {drug} for", "indication for {drug}?", "why's {pronoun} taking {drug}")
_WHY_VISIT = ("what was the visit on {date} for?", "reason {pronoun} came in on {date}")
_ER = ("# of ED visits", "how many A&E visits?", "ER visits - how many?")
_HOSPITAL = ("any inpatient stays?", "has {pronoun} been admitted before?")
_MAX_SET = 6


def _conditions(asker: Asker) -> None:
    rng = asker.rng
    for kind, table in (("lay_terms", _LAY_CONDITIONS), ("abbreviations", _SHORT_CONDITIONS)):
        index = rng.randrange(len(table))
        wording, words = table[index]
        text = wording.format(pronoun=asker.pronoun)
        ask_condition_words(asker, kind, f"heldout.condition.{index}", text, words)
    ask_active_condition(asker, _HAS, "heldout.has")
    ask_absent_condition(asker, _HAS, "heldout.has_not", _NEVER)


def _drugs(asker: Asker) -> None:
    rng = asker.rng
    orders = active_orders(asker.record)
    ask_on_drug(asker, _ON, "heldout.on")
    ask_not_on_drug(asker, _ON, "heldout.on_not", _NEVER_DRUGS)
    classes = {c.key: c for c in DRUG_CLASSES}
    key, wordings = _CLASS[rng.randrange(len(_CLASS))]
    index, text = asker.pick(wordings)
    matched = with_words(orders, classes[key].ingredients)
    template = f"heldout.class.{key}.{index}"
    ask_yes_no(asker, "drug_class", template, {"class": key}, text, matched)
    index = rng.randrange(len(_PURPOSE))
    purpose, wording = _PURPOSE[index]
    ingredients = _DIABETES_DRUGS if purpose == "diabetes" else classes[purpose].ingredients
    text = wording.format(pronoun=asker.pronoun, poss=asker.possessive)
    matched = with_words(orders, ingredients)
    if text.startswith("what "):
        # "what is she taking for her pressure": the list (none said as none), not a yes.
        items = tuple(dict.fromkeys(ExpectedItem(n) for n, _ in matched))
        answer = ExpectedAnswer("set", items=items)
        refs = [reference(o) for _, o in matched]
        asker.ask("drug_class", f"heldout.purpose.{index}", {}, text, answer, refs)
    else:
        ask_yes_no(asker, "drug_class", f"heldout.purpose.{index}", {}, text, matched)
    every = [drug_name(asker.record, o).lower() for o in asker.record.of("MedicationRequest")]
    taken = [b for b, i in BRANDS.items() if with_words(orders, (i,))]
    pool = taken or [b for b, i in BRANDS.items() if not any(i in n for n in every)]
    if pool:
        brand = rng.choice(sorted(pool))
        ask_brand(asker, _BRAND, "heldout.brand", brand, BRANDS[brand])


def _periods(asker: Asker) -> None:
    record, rng = asker.record, asker.rng
    visits = encounters(record)
    if visits:
        year = int(day(rng.choice(visits))[:4])
        found = [v for v in visits if day(v)[:4] == str(year)]
        index, text = asker.pick(_VISITS_YEAR, year=year)
        count = ExpectedAnswer("count", value=len(found))
        asker.ask(
            "time_scoped",
            f"heldout.visits_year.{index}",
            {"y": year},
            text,
            count,
            [reference(v) for v in found],
        )
        since = int(day(visits[-min(len(visits), 6)])[:4])
        found = [v for v in visits if day(v)[:4] >= str(since)]
        index, text = asker.pick(_VISITS_SINCE, year=since)
        count = ExpectedAnswer("count", value=len(found))
        asker.ask(
            "time_scoped",
            f"heldout.visits_since.{index}",
            {"y": since},
            text,
            count,
            [reference(v) for v in found],
        )
        start = (asker.today - timedelta(days=365)).isoformat()
        found = [v for v in visits if start <= day(v) <= asker.today.isoformat()]
        index, text = asker.pick(_VISITS_PAST)
        count = ExpectedAnswer("count", value=len(found))
        asker.ask(
            "time_scoped",
            f"heldout.visits_past.{index}",
            {"since": start},
            text,
            count,
            [reference(v) for v in found],
        )
    immunizations = record.of("Immunization")
    if immunizations:
        year = int(day(rng.choice(immunizations))[:4])
        given = sorted((r for r in immunizations if day(r)[:4] == str(year)), key=moment)
        index, text = asker.pick(_VACCINES, year=year)
        vaccines = tuple(dict.fromkeys(vaccine_item(r) for r in given))
        asker.ask(
            "time_scoped",
            f"heldout.vaccines.{index}",
            {"y": year},
            text,
            ExpectedAnswer("set", items=vaccines),
            [reference(r) for r in given],
        )
    orders = record.of("MedicationRequest")
    if orders:
        year = int(day(rng.choice(orders))[:4])
        found = sorted((o for o in orders if day(o)[:4] == str(year)), key=moment)
        names = [n for n in dict.fromkeys(drug_name(record, o) for o in found) if n]
        if len(names) <= _MAX_SET:
            index, text = asker.pick(_STARTED, year=year)
            items = tuple(ExpectedItem(n) for n in names)
            asker.ask(
                "time_scoped",
                f"heldout.started.{index}",
                {"y": year},
                text,
                ExpectedAnswer("set", items=items),
                [reference(o) for o in found],
            )


def _firsts_and_last(asker: Asker) -> None:
    visits = encounters(asker.record)
    if visits:
        index, text = asker.pick(_FIRST_VISIT)
        asker.ask(
            "first",
            f"heldout.first_visit.{index}",
            {},
            text,
            ExpectedAnswer("date", date=day(visits[0])),
            [reference(visits[0])],
        )
    by_name: dict[str, list[Resource]] = {}
    for name, condition in condition_names(asker.record):
        by_name.setdefault(name, []).append(condition)
    if by_name:
        name = asker.rng.choice(sorted(by_name))
        onset = by_name[name][0]
        index, text = asker.pick(_DIAGNOSED, condition=name.lower())
        asker.ask(
            "first",
            f"heldout.diagnosed.{index}",
            {"c": name},
            text,
            ExpectedAnswer("date", date=day(onset)),
            [reference(onset)],
        )
    ask_last_visit(asker, _LAST_VISIT, "heldout.")


def _classes(asker: Asker) -> None:
    visits = encounters(asker.record)
    emergency = emergency_visits(visits)
    index, text = asker.pick(_ER)
    asker.ask(
        "abbreviations",
        f"heldout.er.{index}",
        {},
        text,
        ExpectedAnswer("count", value=len(emergency)),
        [reference(v) for v in emergency],
    )
    if admission_outside_inpatient(visits):
        return  # an "admission" outside the inpatient class: no one definite answer
    answer, references = inpatient_answer(visits)
    index, text = asker.pick(_HOSPITAL)
    asker.ask("lay_terms", f"heldout.inpatient.{index}", {}, text, answer, references)


def heldout_visit_questions(asker: Asker) -> None:
    """Conditions, orders, purposes, periods, firsts, the last visit, reasons."""
    _conditions(asker)
    _drugs(asker)
    _periods(asker)
    _firsts_and_last(asker)
    ask_why_drug(asker, _WHY_DRUG, "heldout.", "d", lambda name: drug_words(name).lower())
    ask_why_visit(asker, _WHY_VISIT, "heldout.")
    _classes(asker)
