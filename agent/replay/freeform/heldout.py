"""The held-out free-form set: fresh wordings, and asks the main set does not make.

Why a second set: the main set (:func:`agent.replay.freeform.freeform_questions`) was
written while the rule path was being built, so a score on it says how well the rules
fit the phrasings they were fixed against.  This set was written afterwards, in the
style clinicians type (ward shorthand, lay words, typos, terse fragments, time scoping),
and measured before any fix; it is the figure for phrasing nobody tuned for.  Its ids
start with ``freeform.<kind>.heldout`` so the two sets never share a question.

Ground truth comes from the raw JSON through the referee's own readers
(:mod:`agent.replay.freeform.facts`) and vocabulary, exactly as the main set's.  The
asks that need the record's visits, orders and people are in
:mod:`agent.replay.freeform.heldout_visits`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from agent.replay.freeform.asks import (
    ask_extreme,
    ask_first_result,
    ask_last_two,
    ask_latest,
    ask_threshold,
)
from agent.replay.freeform.base import KINDS, Asker
from agent.replay.freeform.facts import Result, person_name, results
from agent.replay.freeform.heldout_people import heldout_people_questions
from agent.replay.freeform.heldout_visits import heldout_visit_questions
from agent.replay.freeform.referee import smoking_status
from agent.replay.freeform.vocabulary import MEASURES, measure
from agent.replay.model import ExpectedAnswer, Question
from agent.replay.record import PatientRecord, reference

__all__ = ["heldout_questions"]

_LATEST = (
    "{name} - most recent?",
    "pls give me the last {name} w/ date",
    "whats the newest {name}",
    "recent {name} result?",
    "{name} today? or whenever last done",
    "remind me of {poss} last {name}",
)
# (measure, lay phrase) pairs written for this set; the phrase is the whole question
# or is put into a short frame.
_LAY = (
    ("sodium", "salt level"),
    ("glucose", "sugar reading"),
    ("hba1c", "3 month sugar"),
    ("egfr", "kidney numbers"),
    ("creat", "kidney numbers"),
    ("weight", "how heavy is {pronoun}"),
    ("spo2", "oxygen"),
    ("bp", "pressure reading"),
    ("chol", "cholesterol level"),
    ("hr", "heart rate"),
    ("tg", "blood fats"),
)
_LAY_FRAME = ("what's {poss} {lay} lately?", "{lay} last time?", "how was {poss} {lay} last chkd")
_SHORT = (
    ("glucose", "BG"),
    ("sodium", "Na"),
    ("potassium", "K"),
    ("creat", "Cr"),
    ("hgb", "Hgb"),
    ("weight", "wt"),
    ("spo2", "SpO2"),
    ("bp", "BP"),
    ("hba1c", "A1C"),
    ("ldl", "LDL"),
    ("bmi", "BMI"),
    ("hr", "HR"),
)
_SHORT_FRAME = ("{abbr}?", "latest {abbr} pls", "{abbr} last", "last {abbr} + date")
_HIGH = (
    "highest ever {name}",
    "what's the max {name} we have on file",
    "{name} peak value + date",
    "worst (highest) {name}?",
)
_LOW = ("lowest {name} recorded", "min {name}? when", "what was the lowest {name} ever")
_OVER = (
    "{name} ever over {t}? how many times",
    "count of {name} > {t}",
    "how often was {poss} {name} above {t}",
    "# of {name} readings over {t}",
)
_UNDER = ("how often was {name} under {t}", "{name} < {t} how many times?")
_COMPARE = (
    "last 2 {name}s - trend?",
    "{name}: latest vs the one before",
    "is {name} going up or down? last two",
    "prev and current {name}",
)
_FIRST = ("first ever {name}", "oldest {name} on file", "{name} baseline (first one)?")
_THRESHOLDS = {
    "hba1c": ("above", (8, 7, 6.5)),
    "glucose": ("above", (110, 126, 100)),
    "ldl": ("above", (130, 100)),
    "chol": ("above", (240, 200)),
    "bmi": ("above", (30, 27, 35)),
    "egfr": ("below", (60, 90)),
    "bp": ("above", (140, 130, 120)),
    "hr": ("above", (100, 90, 80)),
    "weight": ("above", (100, 90, 80)),
}
_SMOKE = ("does {pronoun} smoke?", "smoker?", "tobacco use?", "is {pronoun} a smoker")


def _name(key: str) -> str:
    return "systolic BP" if key == "bp" else measure(key).name


def _latest(asker: Asker, available: dict[str, list[Result]]) -> None:
    rng = asker.rng
    keys = sorted(available)
    for key in rng.sample(keys, min(2, len(keys))):
        name = measure(key).name
        ask_latest(
            asker, "paraphrase", "heldout.latest", {"m": key}, available[key], _LATEST, name=name
        )
    lay = [(k, p) for k, p in _LAY if k in available]
    for key, phrase in rng.sample(lay, min(2, len(lay))):
        params = {"m": key, "phrase": phrase}
        if "{pronoun}" in phrase:
            text = phrase.format(pronoun=asker.pronoun) + "?"
            ask_latest(asker, "lay_terms", "heldout.lay", params, available[key], None, text)
        else:
            ask_latest(
                asker, "lay_terms", "heldout.lay", params, available[key], _LAY_FRAME, lay=phrase
            )
    short = [(k, a) for k, a in _SHORT if k in available]
    for key, abbreviation in rng.sample(short, min(2, len(short))):
        params = {"m": key, "abbr": abbreviation}
        found = available[key]
        ask_latest(
            asker, "abbreviations", "heldout.abbr", params, found, _SHORT_FRAME, abbr=abbreviation
        )


def _extremes(asker: Asker, available: dict[str, list[Result]]) -> None:
    many = sorted(k for k, f in available.items() if len(f) >= 3)
    for key in asker.rng.sample(many, min(2, len(many))):
        highest = asker.rng.random() < 0.55 or key == "bp"
        template = f"heldout.{'high' if highest else 'low'}"
        wordings = _HIGH if highest else _LOW
        ask_extreme(asker, template, {"m": key}, available[key], highest, wordings, _name(key))


def _thresholds(asker: Asker, available: dict[str, list[Result]]) -> None:
    usable = sorted(k for k, f in available.items() if k in _THRESHOLDS and len(f) >= 2)
    for key in asker.rng.sample(usable, min(2, len(usable))):
        direction, candidates = _THRESHOLDS[key]
        wordings = _OVER if direction == "above" else _UNDER
        name = _name(key)
        if key == "hba1c":
            name = asker.rng.choice(("a1c", "HbA1c", "A1C"))
        template = f"heldout.{direction}"
        threshold_of = ("t", direction, candidates)
        ask_threshold(asker, template, {"m": key}, available[key], threshold_of, wordings, name)


def _compare_and_first(asker: Asker, available: dict[str, list[Result]]) -> None:
    usable = sorted(k for k, f in available.items() if len(f) >= 2 and not measure(k).components)
    for key in asker.rng.sample(usable, min(1, len(usable))):
        name = measure(key).name
        ask_last_two(asker, "heldout.last2", {"m": key}, available[key], _COMPARE, name)
    keys = sorted(available)
    for key in asker.rng.sample(keys, min(1, len(keys))):
        name = measure(key).name
        ask_first_result(asker, "heldout.first", {"m": key}, available[key], _FIRST, name)


def _smoking(asker: Asker) -> None:
    """Social history asked in lay words: the latest tobacco smoking status."""
    status = smoking_status(asker.record)
    if status is None:
        return
    index, text = asker.pick(_SMOKE)
    asker.ask(
        "lay_terms",
        f"heldout.smoke.{index}",
        {},
        text,
        ExpectedAnswer("text_contains", value=status[0]),
        [reference(status[1])],
    )


def heldout_questions(
    record: PatientRecord, other_people: Sequence[str] = (), today: date | None = None
) -> list[Question]:
    """Every held-out question this record supports, in a stable order (by kind)."""
    own = person_name(record.patient)
    asker = Asker(record, today or date.today(), [p for p in other_people if p != own], own)
    asker.rng.seed(f"heldout:{record.id}")
    available = {m.key: found for m in MEASURES if (found := results(record, m))}
    if available:
        _latest(asker, available)
        _extremes(asker, available)
        _thresholds(asker, available)
        _compare_and_first(asker, available)
    _smoking(asker)
    heldout_visit_questions(asker)
    heldout_people_questions(asker)
    order = {kind: index for index, kind in enumerate(KINDS)}
    return sorted(asker.questions, key=lambda q: order[q.category])
