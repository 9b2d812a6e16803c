"""What a question asks, from its shape: why, a timeline, a count, an extreme, a
comparison, a course over time, yes/no, a list or one value.

Apart from :mod:`agent.reading.rules` (which reads the concept, the period and the
rest) so each pattern has one place; the order of the tests is the precedence ("how
many times has her A1c gone up" counts; "has his weight gone up" is a course, not a
yes/no).
"""

from __future__ import annotations

import re

from agent.reading.course import asks_course
from agent.reading.model import Asks
from agent.reading.periods import is_count_question

__all__ = ["YES_NO_START", "has_phrase", "what_is_asked"]

_TREND = ("trend", "over time", "changed", "history of", "all of", "every", "progress")
YES_NO_START = re.compile(
    r"^\s*(?:is|are|was|were|does|do|did|has|have|had|any|ever|can|pt|hx|has there|"
    r"history of|known|currently on|currently taking|on)\b"
)
"""A question opening as a yes/no question ("is she diabetic", "any allergies")."""
_WHY = re.compile(
    r"^\s*why\b|\breason\b|\bindication\b|\bwhat (?:is|was) (?:the )?.+ for\??$"
    r"|\bwhat brought\b|\bwhat condition\b.*\b(?:treat|for)"
)
_TIMELINE = re.compile(
    r"\bwhat happened\b|\bwhat was done\b|\bsummari[sz]e the (?:last|latest|most recent)\b"
    r"|\b(?:summari[sz]e|summary|details?|what did (?:they|we|you|he|she|i) do)\b"
    r".*\b(?:visit|encounter|appointment)s?\b"
    r"|\b(?:visit|encounter|appointment)s?\b.*\b(?:details?|summary|what happened)\b"
    r"|\btell me about\b.*\b(?:last|latest|most recent)\s+(?:visit|encounter|appointment)"
    r"|\b(?:last|latest|most recent)\s+(?:visit|encounter|appointment)\s+about\b"
)


def has_phrase(text: str, *phrases: str) -> bool:
    """Whole-phrase match in normalised text."""
    # ``p in text`` first: a pattern per vocabulary name overflows ``re``'s cache, and
    # compiling them all again cost about 0.1 s a turn.
    return any(
        p in text and re.search(rf"(?<![a-z0-9]){re.escape(p)}(?![a-z0-9])", text) for p in phrases
    )


def what_is_asked(raw: str, text: str, reading: dict[str, object]) -> Asks:
    """The kind of answer ``raw`` (lower case) asks for; ``text`` is it normalised without
    its period and threshold, ``reading`` what was read of those (see the module
    docstring for the order)."""
    if _WHY.search(raw):
        return "why"
    if _TIMELINE.search(raw):
        return "timeline"
    if reading.get("threshold") is not None or is_count_question(raw):
        return "count"
    if reading.get("extreme"):
        return "extreme"
    if (
        has_phrase(text, "compare", "comparison", "better or worse", "go up or down", "up or down")
        or has_phrase(text, "vs", "versus", "previous and current", "the one before")
        or int(str(reading.get("last_n") or 0)) > 1
    ):
        return "compare"
    if asks_course(raw):
        return "trend"
    if YES_NO_START.search(raw) or "yes or no" in raw:
        return "yes_no"
    if any(p in text for p in _TREND) or has_phrase(text, "values", "results", "readings"):
        return "trend" if reading.get("period") or has_phrase(text, "trend", "changed") else "list"
    return "value"
