"""Free-form yes/no questions: conditions, drugs, drug classes, brands, lay words, shorthand.

A "yes" names what makes it yes (any one of ``items`` must appear in the answer); a
"no" is only asked where the referee looked through every order or condition itself.
"""

from __future__ import annotations

import json

from agent.replay.freeform.base import Asker
from agent.replay.freeform.facts import (
    active_orders,
    condition_names,
    conditions_matching,
    drug_name,
    drug_words,
)
from agent.replay.freeform.vocabulary import BRANDS, DRUG_CLASSES
from agent.replay.model import ExpectedAnswer, ExpectedItem
from agent.replay.record import Resource, codes_of, reference

__all__ = ["yes_no_questions"]

# (question words, words a matching condition display holds), for yes/no questions.
_LAY_CONDITIONS = (
    ("is {pronoun} diabetic?", ("diabetes mellitus", "diabetic")),
    ("does {pronoun} have high blood pressure?", ("hypertension",)),
    ("any kidney problems?", ("kidney",)),
    ("does {pronoun} have a heart problem?", ("heart", "cardiac", "coronary", "myocardial")),
)
_SHORTHAND_CONDITIONS = (
    ("hx of HTN?", ("hypertension",)),
    ("hx of DM?", ("diabetes mellitus",)),
    ("pt has CKD?", ("chronic kidney disease",)),
    ("any hx of MI?", ("myocardial infarction",)),
    ("AFib?", ("atrial fibrillation",)),
    ("COPD hx?", ("chronic obstructive",)),
    ("pt has HLD?", ("hyperlipidemia", "hypertriglyceridemia")),
)
_HAS = (
    "Does {pronoun} have {condition}?",
    "any history of {condition}?",
    "{condition} - yes or no?",
)
_NEVER_CONDITIONS = ("asthma", "epilepsy", "gout", "multiple sclerosis", "lupus", "psoriasis")
_ON = ("Is {pronoun} on {drug}?", "is the patient taking {drug}?", "{drug} - currently prescribed?")
_NEVER_DRUGS = ("warfarin", "levothyroxine", "sertraline", "gabapentin", "omeprazole")
_CLASS = ("pt on any {phrase}?", "is {pronoun} taking {phrase}?", "currently on {phrase}?")
_BRAND = ("is {pronoun} on {brand}?", "pt taking {brand}?", "does {pronoun} take {brand}")


def _record_text(asker: Asker) -> str:
    """Every word of the record, lower-cased: a "no" is only asked about what is nowhere."""
    if not asker.record_text:
        resources = [r for items in asker.record.by_type.values() for r in items]
        asker.record_text = json.dumps([asker.record.patient, *resources]).lower()
    return asker.record_text


def _yes_no(
    asker: Asker,
    kind: str,
    template: str,
    params: dict[str, str],
    text: str,
    matched: list[tuple[str, Resource]],
) -> None:
    items = tuple(dict.fromkeys(ExpectedItem(name) for name, _ in matched))
    answer = ExpectedAnswer("yes_no", value="yes" if matched else "no", items=items)
    asker.ask(kind, template, params, text, answer, [reference(r) for _, r in matched])


def _ingredient_orders(
    orders: list[tuple[str, Resource]], ingredients: tuple[str, ...]
) -> list[tuple[str, Resource]]:
    return [(n, o) for n, o in orders if any(i in n.lower() for i in ingredients)]


def _conditions(asker: Asker) -> None:
    rng = asker.rng
    for kind, table in (("lay_terms", _LAY_CONDITIONS), ("abbreviations", _SHORTHAND_CONDITIONS)):
        for index in rng.sample(range(len(table)), 2):
            wording, words = table[index]
            matched = conditions_matching(asker.record, *words)
            text = wording.format(pronoun=asker.pronoun)
            _yes_no(asker, kind, f"condition.{index}", {}, text, matched)
    disorders = [
        (name, c)
        for name, c in condition_names(asker.record)
        if "active" in codes_of(c.get("clinicalStatus"))
    ]
    named = sorted({name for name, _ in disorders if len(name) < 40})
    if named:
        condition = rng.choice(named)
        matched = [(n, c) for n, c in disorders if n == condition]
        index, text = asker.pick(_HAS, condition=condition.lower())
        _yes_no(asker, "yes_no", f"has.{index}", {"condition": condition}, text, matched)
    text = _record_text(asker)
    absent = [c for c in _NEVER_CONDITIONS if c not in text]
    if absent:
        condition = rng.choice(absent)
        index, text = asker.pick(_HAS, condition=condition)
        _yes_no(asker, "yes_no", f"has_not.{index}", {"condition": condition}, text, [])


def _drugs(asker: Asker) -> None:
    rng = asker.rng
    orders = active_orders(asker.record)
    every = [drug_name(asker.record, o).lower() for o in asker.record.of("MedicationRequest")]
    if orders:
        name, _ = rng.choice(orders)
        drug = drug_words(name).lower()
        # The drug as the question names it, compared word for word ("insulin isophane
        # human" is "Insulin Isophane, Human ..."): a substring test missed the comma.
        matched = [(n, o) for n, o in orders if drug_words(n).lower() == drug]
        index, text = asker.pick(_ON, drug=drug)
        _yes_no(asker, "yes_no", f"on.{index}", {"drug": drug}, text, matched)
    text = _record_text(asker)
    never = [d for d in _NEVER_DRUGS if d not in text]
    if never:
        drug = rng.choice(never)
        index, text = asker.pick(_ON, drug=drug)
        _yes_no(asker, "yes_no", f"on_not.{index}", {"drug": drug}, text, [])
    for drug_class in rng.sample(DRUG_CLASSES, 2):
        phrase = rng.choice(drug_class.phrases)
        matched = _ingredient_orders(orders, drug_class.ingredients)
        index, text = asker.pick(_CLASS, phrase=phrase)
        params = {"class": drug_class.key, "phrase": phrase}
        _yes_no(asker, "drug_class", f"class.{index}", params, text, matched)
    brands_taken = [b for b, i in BRANDS.items() if _ingredient_orders(orders, (i,))]
    brands_never = [b for b, i in BRANDS.items() if not any(i in n for n in every)]
    pool = brands_taken or brands_never
    if pool:
        brand = rng.choice(pool)
        matched = _ingredient_orders(orders, (BRANDS[brand],))
        index, text = asker.pick(_BRAND, brand=brand)
        _yes_no(asker, "drug_class", f"brand.{index}", {"brand": brand}, text, matched)


def yes_no_questions(asker: Asker) -> None:
    """Yes/no about conditions and drugs, in plain, lay and shorthand wording."""
    _conditions(asker)
    _drugs(asker)
