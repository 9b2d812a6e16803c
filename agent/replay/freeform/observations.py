"""Free-form questions about labs and vitals: paraphrase, lay words, shorthand, extremes,
thresholds, comparisons of the last results, the first result.

A question is only asked when the record gives one definite answer: no two different
results on the day asked about, no tie for the highest value.
"""

from __future__ import annotations

from agent.replay.freeform.asks import (
    ask_extreme,
    ask_first_result,
    ask_last_two,
    ask_latest,
    ask_threshold,
)
from agent.replay.freeform.base import Asker
from agent.replay.freeform.facts import Result, results
from agent.replay.freeform.referee import definite_latest
from agent.replay.freeform.vocabulary import MEASURES, Measure

__all__ = ["observation_questions"]

_PARAPHRASE = (
    "what's {poss} latest {name}?",
    "{name} most recent value pls",
    "When was {name} last checked and what was it?",
    "can you pull up the last {name} result",
    "Most recent {name}?",
    "what did the last {name} show",
)
_LAY = (
    "latest {lay}?",
    "what's {poss} {lay} like most recently",
    "how's {poss} {lay} - last check?",
)
_ABBREVIATION = ("last {abbr}?", "most recent {abbr}", "{abbr} latest", "what was the last {abbr}")
_HIGHEST = (
    "What was {poss} highest {name} reading?",
    "highest {name} on record?",
    "max {name} ever recorded",
    "peak {name}?",
)
_LOWEST = ("What was {poss} lowest {name}?", "lowest {name} on record?", "min {name} ever")
_ABOVE = (
    "How many times was {poss} {name} above {t}?",
    "how many {name} results over {t}?",
    "number of {name} readings > {t}",
)
_BELOW = ("How many times was {poss} {name} below {t}?", "how many {name} results under {t}?")
_COMPARE = (
    "Compare the last two {name} values",
    "how do the last 2 {name} results compare?",
    "last two {name} readings - better or worse?",
)
_FIRST = (
    "What was {poss} first {name} on record?",
    "earliest recorded {name}?",
    "first {name} result and date",
)
# Thresholds clinicians use, per measure: (direction, candidates).
_THRESHOLDS = {
    "hba1c": ("above", (7, 6.5, 8)),
    "glucose": ("above", (100, 126, 140)),
    "ldl": ("above", (100, 130, 70)),
    "chol": ("above", (200, 240)),
    "bmi": ("above", (30, 25, 35)),
    "egfr": ("below", (60, 90, 45)),
    "bp": ("above", (140, 130)),
    "hr": ("above", (90, 80, 100)),
    "weight": ("above", (80, 90, 100)),
}


def _latest_kinds(asker: Asker, available: list[tuple[Measure, list[Result]]]) -> None:
    rng = asker.rng
    for measure, found in rng.sample(available, min(2, len(available))):
        params = {"measure": measure.key}
        ask_latest(asker, "paraphrase", "latest", params, found, _PARAPHRASE, name=measure.name)
    lay = [(m, f) for m, f in available if m.lay]
    for measure, found in rng.sample(lay, min(2, len(lay))):
        if definite_latest(found) is None:
            continue
        phrase = rng.choice(measure.lay)
        params = {"measure": measure.key, "phrase": phrase}
        if "{pronoun}" in phrase:
            text = phrase.format(pronoun=asker.pronoun) + "?"
            ask_latest(asker, "lay_terms", "lay", params, found, None, text)
        else:
            ask_latest(asker, "lay_terms", "lay", params, found, _LAY, lay=phrase)
    shorthand = [(m, f) for m, f in available if m.abbreviations]
    for measure, found in rng.sample(shorthand, min(1, len(shorthand))):
        if definite_latest(found) is None:
            continue
        abbreviation = rng.choice(measure.abbreviations)
        params = {"measure": measure.key, "abbr": abbreviation}
        ask_latest(asker, "abbreviations", "abbr", params, found, _ABBREVIATION, abbr=abbreviation)


def _name(measure: Measure) -> str:
    return "systolic BP" if measure.key == "bp" else measure.name


def _extreme(asker: Asker, available: list[tuple[Measure, list[Result]]]) -> None:
    many = [(m, f) for m, f in available if len(f) >= 3]
    for measure, found in asker.rng.sample(many, min(2, len(many))):
        highest = asker.rng.random() < 0.6 or measure.key == "bp"
        wordings = _HIGHEST if highest else _LOWEST
        template = "high" if highest else "low"
        params = {"measure": measure.key}
        ask_extreme(asker, template, params, found, highest, wordings, _name(measure))


def _threshold(asker: Asker, available: list[tuple[Measure, list[Result]]]) -> None:
    usable = [(m, f) for m, f in available if m.key in _THRESHOLDS and len(f) >= 2]
    for measure, found in asker.rng.sample(usable, min(2, len(usable))):
        direction, candidates = _THRESHOLDS[measure.key]
        wordings = _ABOVE if direction == "above" else _BELOW
        threshold_of = ("threshold", direction, candidates)
        params = {"measure": measure.key}
        ask_threshold(asker, direction, params, found, threshold_of, wordings, _name(measure))


def _compare(asker: Asker, available: list[tuple[Measure, list[Result]]]) -> None:
    usable = [(m, f) for m, f in available if len(f) >= 2 and not m.components]
    for measure, found in asker.rng.sample(usable, min(2, len(usable))):
        ask_last_two(asker, "last2", {"measure": measure.key}, found, _COMPARE, measure.name)


def _first(asker: Asker, available: list[tuple[Measure, list[Result]]]) -> None:
    for measure, found in asker.rng.sample(available, min(1, len(available))):
        params = {"measure": measure.key}
        ask_first_result(asker, "first_result", params, found, _FIRST, measure.name)


def observation_questions(asker: Asker) -> None:
    """Every lab/vital kind the record supports, about measures it holds."""
    available = [(m, found) for m in MEASURES if (found := results(asker.record, m))]
    if not available:
        return
    _latest_kinds(asker, available)
    _extreme(asker, available)
    _threshold(asker, available)
    _compare(asker, available)
    _first(asker, available)
