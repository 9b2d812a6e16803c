"""Words that ask for a clinical judgement: whether something is controlled or well managed.

"is his diabetes controlled?", "is her blood pressure under control?", "is her
hypertension well managed?": the record states a condition's status and the results
measured, never whether a clinician judges it controlled, so a "Yes" (the condition is
active) or a "No" would be a judgement the record does not make.  The span is cut from
the text before the concept phrase is read ("diabetes controlled" names diabetes), and
the answer says what the record does not say, then shows what a clinician would look at:
the condition's status and the latest results of the panel followed for it
(``monitors`` in ``tools/concepts/data/lab_panels.toml``: diabetes -> HbA1c, glucose).
A panel's name ending in "control" ("glycemic control", "blood sugar control", "lipid
control", "BP control") asks the same judgement of what the panel is followed for (its
first ``monitors`` entry: diabetes, cholesterol, hypertension), so "what's his glycemic
control" reads as "is his diabetes controlled".
Apart from :mod:`agent.reading.rules` because it is one pattern with one use.
"""

from __future__ import annotations

import re
from functools import cache

from agent.reading.model import Concept, Reading
from tools.concepts.vocabularies import vocabularies
from tools.vocabulary import normalize_name

__all__ = ["JUDGEMENT_WORDS", "cut_judgement_words", "with_monitoring"]

_HOW = r"(?:well|poorly|badly|adequately|properly|optimally|tightly|reasonably|fairly)"
JUDGEMENT_WORDS = re.compile(
    # Not "a controlled substance", "controlled-release tablets": kinds of drug.
    rf"\b(?:{_HOW}[- ])?(?:un)?controlled\b(?![- ](?:substances?|release|drugs?)\b)"
    rf"|\b(?:{_HOW}[- ])managed\b|\bmanaged\s+{_HOW}\b"
    r"|\b(?:under|out of|in)\s+(?:good |poor |better |tight |adequate |decent )?control\b"
    r"|\b(?:good|poor|bad|adequate|optimal|tight|decent)\s+control\b"
)
"""A judgement question's words (see the module docstring)."""

_MAX_CONCEPTS = 4  # Reading.concepts' bound


@cache
def _control_subjects() -> tuple[tuple[re.Pattern[str], str], ...]:
    """ "glycemic control" -> diabetes: each panel name ending in "control", longest
    first, with the first condition or measure the panel is followed for."""
    names = [
        (normalize_name(name), panel.monitors[0])
        for panel in vocabularies().lab_panels.values()
        if panel.monitors
        for name in panel.names
        if name.endswith(" control")
    ]
    names.sort(key=lambda pair: -len(pair[0]))
    return tuple((re.compile(rf"\b{re.escape(name)}\b"), subject) for name, subject in names)


def cut_judgement_words(text: str) -> tuple[bool, str]:
    """Whether ``text`` asks a judgement question, and ``text`` without its words (a
    panel's "control" name replaced by what the panel is followed for)."""
    named = False
    for pattern, subject in _control_subjects():
        text, found = pattern.subn(f" {subject} ", text)
        named = named or bool(found)
    text, cut = JUDGEMENT_WORDS.subn(" ", text)
    return named or bool(cut), text


def with_monitoring(reading: Reading) -> Reading:
    """A judgement question's reading with the results followed for its subject added,
    read after the record's resolution; the course of a diagnosis the panels follow
    ("how's his diabetes been") is such a judgement too.  Any other reading is returned
    unchanged.  Used where no model plans: a model plans its own lookups for a
    judgement question, and the rules it falls back on stay as they were."""
    diagnosis = bool(reading.concepts) and reading.concepts[0].family == "condition"
    if not (reading.judged or (reading.course and diagnosis)):
        return reading
    concepts = _monitoring_concepts(reading.concepts)
    if len(concepts) == len(reading.concepts) and not reading.judged:
        return reading  # "how has her asthma been": nothing followed for it; its records
    families = list(dict.fromkeys([*(c.family for c in concepts if c.family), *reading.families]))
    update = {"concepts": concepts, "families": families[:6], "judged": True}
    return reading.model_copy(update=update)


def _monitoring_concepts(concepts: list[Concept]) -> list[Concept]:
    """``concepts`` and then the results of the panel followed for the first of them that
    names one ("diabetes" -> HbA1c, glucose), within the reading's bound of four."""
    monitored = vocabularies().monitoring_panels
    for concept in concepts:
        phrase = f" {normalize_name(concept.phrase)} "
        # The longest monitored words in the phrase: "type 2 diabetes" is diabetes.
        key = next(
            (m for m in sorted(monitored, key=len, reverse=True) if f" {m} " in phrase), None
        )
        if key is None:
            continue
        held = {c.name for c in concepts if c.family in ("lab", "vital")}
        added = [
            Concept(
                phrase=normalize_name(member.names[0]),
                family="vital" if member.kind == "vital" else "lab",
                name=member.names[0],
            )
            for member in vocabularies().lab_panels[monitored[key]].members
            if member.names[0] not in held
        ]
        return [*concepts, *added][:_MAX_CONCEPTS]
    return concepts
