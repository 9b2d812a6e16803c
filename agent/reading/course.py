"""Words that ask how something has gone over time: the course of a result, a trend.

"how's his cholesterol been", "how has her A1c changed", "has his weight gone up",
"BP over the years", "is her eGFR dropping": each asks for the dated values, not the
latest one and not a "Yes" (a direction is the clinician's to read from the values).
Read by the question's shape (how ... been / changed / gone up / over time) rather than
a list of phrasings, and ahead of the yes/no opening ("has his weight gone up?" is not
answered "Yes").  "Is his kidney function stable?", "has her weight been steady" ask
the same of a measured quantity; "stable" names a course only where no noun follows it,
so "stable angina" stays a condition.  Apart from :mod:`agent.reading.rules` because
it is one pattern with one use.
"""

from __future__ import annotations

import re

__all__ = ["COURSE_WORDS", "asks_course", "cut_course_words"]

# Verbs of movement; not "falls" (an event), "drops" (eye drops) or "progress" (notes).
_MOVE = (
    r"(?:chang(?:e|es|ed|ing)|increas(?:e|es|ed|ing)|decreas(?:e|es|ed|ing)|ris(?:e|es|en|ing)"
    r"|dropped|dropping|climb(?:s|ed|ing)|improv(?:e|es|ed|ing)|worsen(?:s|ed|ing)"
    r"|fluctuat(?:e|es|ed|ing)|progress(?:ed|ing)|trend(?:s|ed|ing)?)"
)
_MOVING = (
    # "gone up", "going down", "come down", "trending up"
    r"\b(?:gone|going|went|come|coming|came|creeping|trending|moving)\s+(?:up|down)\b"
    rf"|\b{_MOVE}\b"
    r"|\bchanges?\s+(?:in|of)\b"
    r"|\bgetting\s+(?:better|worse|higher|lower)\b"
    r"|\bover\s+(?:time|the\s+(?:years|months|course))\b|\bthrough the years\b"
    r"|\btrajectory\s+of\b"
)
# "is X stable?", "been steady lately", "stable or worse": never "stable angina", a name.
_STABLE = (
    r"\b(?:stable|steady|unchanged|stabili[sz]ed)\b(?=\s*(?:$|[?.!,;:]|(?:over|since|lately"
    r"|recently|for|in|during|throughout|now|overall|or|and|at all)\b))"
)
COURSE_WORDS = re.compile(
    # "how's X been", "how has X been lately", "how have her sugars looked": the perfect
    # or past asks the course; the present ("how are her sugars looking?", "how is the
    # kidney function doing?") asks the state now, which the latest result answers.
    r"\bhow(?:'s|\u2019s|s| is| has| have| are| was| were)\b"
    r"(?!\s+(?:long|many|much|often|old|far|frequently|soon)\b)"
    r"[^?]*\b(?:been|looked|gone|moved|behaved)\b"
    rf"|{_MOVING}|{_STABLE}"
)
"""A course-over-time question's words (see the module docstring)."""


def asks_course(raw: str) -> bool:
    """Whether the (lower-case) question asks how something went over time."""
    return COURSE_WORDS.search(raw) is not None


_CUT = re.compile(rf"{_MOVING}|{_STABLE}|\b(?:looked|gone|moved|behaved)\b")


def cut_course_words(text: str) -> str:
    """``text`` without the words that say how something moved ("weight gone up": the
    weight), read before the concept phrase is; only for a question that asks a course."""
    return _CUT.sub(" ", text)
