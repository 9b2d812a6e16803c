"""Free-form questions about labs and vitals: paraphrase, lay words, shorthand, extremes,
thresholds, comparisons of the last results, the first result.

A question is only asked when the record gives one definite answer: no two different
results on the day asked about, no tie for the highest value.
"""

from __future__ import annotations

from agent.replay.freeform.base import Asker
from agent.replay.freeform.facts import Result, results
from agent.replay.freeform.vocabulary import MEASURES, Measure
from agent.replay.model import ExpectedAnswer

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


def _definite_latest(found: list[Result]) -> Result | None:
    newest = found[-1]
    same_day = [r for r in found if r.day == newest.day]
    return newest if len(same_day) == 1 else None


def _value(result: Result) -> ExpectedAnswer:
    return ExpectedAnswer("value_date", value=result.stated, date=result.day)


def _latest_kinds(asker: Asker, available: list[tuple[Measure, list[Result]]]) -> None:
    rng = asker.rng
    chosen = rng.sample(available, min(2, len(available)))
    for measure, found in chosen:
        latest = _definite_latest(found)
        if latest is None:
            continue
        index, text = asker.pick(_PARAPHRASE, name=measure.name)
        asker.ask(
            "paraphrase",
            f"latest.{index}",
            {"measure": measure.key},
            text,
            _value(latest),
            [latest.reference],
        )
    lay = [(m, f) for m, f in available if m.lay]
    for measure, found in rng.sample(lay, min(2, len(lay))):
        latest = _definite_latest(found)
        if latest is None:
            continue
        phrase = rng.choice(measure.lay)
        if "{pronoun}" in phrase:
            text = phrase.format(pronoun=asker.pronoun) + "?"
            index = -1
        else:
            index, text = asker.pick(_LAY, lay=phrase)
        asker.ask(
            "lay_terms",
            f"lay.{index}",
            {"measure": measure.key, "phrase": phrase},
            text,
            _value(latest),
            [latest.reference],
        )
    shorthand = [(m, f) for m, f in available if m.abbreviations]
    for measure, found in rng.sample(shorthand, min(1, len(shorthand))):
        latest = _definite_latest(found)
        if latest is None:
            continue
        abbreviation = rng.choice(measure.abbreviations)
        index, text = asker.pick(_ABBREVIATION, abbr=abbreviation)
        asker.ask(
            "abbreviations",
            f"abbr.{index}",
            {"measure": measure.key, "abbr": abbreviation},
            text,
            _value(latest),
            [latest.reference],
        )


def _extreme(asker: Asker, available: list[tuple[Measure, list[Result]]]) -> None:
    many = [(m, f) for m, f in available if len(f) >= 3]
    for measure, found in asker.rng.sample(many, min(2, len(many))):
        highest = asker.rng.random() < 0.6 or measure.key == "bp"
        best = max(r.number for r in found) if highest else min(r.number for r in found)
        at = [r for r in found if r.number == best]
        if len({r.day for r in at}) != 1 or len({r.stated for r in at}) != 1:
            continue  # a tie on two days: no one definite reading
        name = "systolic BP" if measure.key == "bp" else measure.name
        index, text = asker.pick(_HIGHEST if highest else _LOWEST, name=name)
        asker.ask(
            "extreme",
            f"{'high' if highest else 'low'}.{index}",
            {"measure": measure.key},
            text,
            _value(at[0]),
            [r.reference for r in at],
        )


def _threshold(asker: Asker, available: list[tuple[Measure, list[Result]]]) -> None:
    usable = [(m, f) for m, f in available if m.key in _THRESHOLDS and len(f) >= 2]
    for measure, found in asker.rng.sample(usable, min(2, len(usable))):
        direction, candidates = _THRESHOLDS[measure.key]
        for threshold in candidates:
            if direction == "above":
                hits = [r for r in found if r.number > threshold]
            else:
                hits = [r for r in found if r.number < threshold]
            if 0 < len(hits) < len(found) or threshold == candidates[-1]:
                break
        name = "systolic BP" if measure.key == "bp" else measure.name
        wordings = _ABOVE if direction == "above" else _BELOW
        index, text = asker.pick(wordings, name=name, t=f"{threshold:g}")
        asker.ask(
            "threshold",
            f"{direction}.{index}",
            {"measure": measure.key, "threshold": threshold},
            text,
            ExpectedAnswer("count", value=len(hits)),
            [r.reference for r in hits],
        )


def _compare(asker: Asker, available: list[tuple[Measure, list[Result]]]) -> None:
    usable = [(m, f) for m, f in available if len(f) >= 2 and not m.components]
    for measure, found in asker.rng.sample(usable, min(2, len(usable))):
        last = found[-2:]
        if len({r.day for r in found[-3:]}) < min(3, len(found)):
            continue  # same-day results: "the last two" is not definite
        index, text = asker.pick(_COMPARE, name=measure.name)
        points = tuple((r.day, r.number) for r in last)
        asker.ask(
            "compare",
            f"last2.{index}",
            {"measure": measure.key},
            text,
            ExpectedAnswer("series", points=points),
            [r.reference for r in last],
        )


def _first(asker: Asker, available: list[tuple[Measure, list[Result]]]) -> None:
    for measure, found in asker.rng.sample(available, min(1, len(available))):
        oldest = found[0]
        if len([r for r in found if r.day == oldest.day]) != 1:
            continue
        index, text = asker.pick(_FIRST, name=measure.name)
        asker.ask(
            "first",
            f"first_result.{index}",
            {"measure": measure.key},
            text,
            _value(oldest),
            [oldest.reference],
        )


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
