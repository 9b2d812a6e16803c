"""Free-form yes/no questions: conditions, drugs, drug classes, brands, lay words, shorthand.

A "yes" names what makes it yes (any one of ``items`` must appear in the answer); a
"no" is only asked where the referee looked through every order or condition itself.
"""

from __future__ import annotations

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
from agent.replay.freeform.facts import active_orders, drug_name
from agent.replay.freeform.referee import with_words
from agent.replay.freeform.vocabulary import BRANDS, DRUG_CLASSES

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


def _conditions(asker: Asker) -> None:
    rng = asker.rng
    for kind, table in (("lay_terms", _LAY_CONDITIONS), ("abbreviations", _SHORTHAND_CONDITIONS)):
        for index in rng.sample(range(len(table)), 2):
            wording, words = table[index]
            text = wording.format(pronoun=asker.pronoun)
            ask_condition_words(asker, kind, f"condition.{index}", text, words)
    ask_active_condition(asker, _HAS, "has")
    ask_absent_condition(asker, _HAS, "has_not", _NEVER_CONDITIONS)


def _drugs(asker: Asker) -> None:
    rng = asker.rng
    orders = active_orders(asker.record)
    every = [drug_name(asker.record, o).lower() for o in asker.record.of("MedicationRequest")]
    ask_on_drug(asker, _ON, "on")
    ask_not_on_drug(asker, _ON, "on_not", _NEVER_DRUGS)
    for drug_class in rng.sample(DRUG_CLASSES, 2):
        phrase = rng.choice(drug_class.phrases)
        matched = with_words(orders, drug_class.ingredients)
        index, text = asker.pick(_CLASS, phrase=phrase)
        params = {"class": drug_class.key, "phrase": phrase}
        ask_yes_no(asker, "drug_class", f"class.{index}", params, text, matched)
    brands_taken = [b for b, i in BRANDS.items() if with_words(orders, (i,))]
    brands_never = [b for b, i in BRANDS.items() if not any(i in n for n in every)]
    pool = brands_taken or brands_never
    if pool:
        brand = rng.choice(pool)
        ask_brand(asker, _BRAND, "brand", brand, BRANDS[brand])


def yes_no_questions(asker: Asker) -> None:
    """Yes/no about conditions and drugs, in plain, lay and shorthand wording."""
    _conditions(asker)
    _drugs(asker)
