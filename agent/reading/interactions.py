"""Words that ask whether drugs interact or are contraindicated: a judgement not in the record.

"any drug interactions?", "does lisinopril interact with ibuprofen?", "is metformin
contraindicated?", "drug-drug interactions", "any DDIs?": a FHIR record holds orders, not an
interaction check, and ehr-agent has no interaction knowledge base, so a "No" would
claim the absence of something nobody looked for and a "Yes" a judgement nobody made.
The span is cut from the text before the concept phrase is read ("lisinopril interact
with ibuprofen" names two drugs), and the answer says what ehr-agent does not check,
then lists the medication orders asked about (every active one when none is named).
Apart from :mod:`agent.reading.rules` because it is one pattern with one use.
"""

from __future__ import annotations

import re

__all__ = ["INTERACTION_NOTE", "INTERACTION_WORDS", "cut_interaction_words", "named_parts"]

INTERACTION_WORDS = re.compile(
    r"\b(?:(?:drug|medication|med)s?[- ](?:drug|medication|med)s?[- ])?"
    r"(?:interactions?|interacts?|interacting|contra-?indicat\w*|ddis?)\b"
    r"(?:\s+(?:with|between|among|for|of)\b)?"
    r"|\b(?:safe|ok|okay)\s+to\s+(?:take|give|combine|use)\b(?:\s+(?:with|together)\b)?"
)
"""An interaction question's words (see the module docstring)."""

INTERACTION_NOTE = (
    "ehr-agent does not check drug interactions or contraindications: that needs a "
    "drug-interaction knowledge base, which it does not have, and the record states no "
    "such check."
)
"""Said first to an interaction question (``Reading.interaction``): no "Yes" or "No"."""


def cut_interaction_words(text: str) -> tuple[bool, str]:
    """Whether ``text`` asks an interaction question, and ``text`` without its words."""
    text, cut = INTERACTION_WORDS.subn(" , ", text)  # a boundary: "X interact with Y" is two
    return bool(cut), text


_BETWEEN = re.compile(r"\s*(?:,|;|\+|/|&|\band\b|\bwith\b|\bor\b|\bplus\b)\s*", re.I)


def named_parts(text: str) -> list[str]:
    """The pieces of an interaction question's text between its separators ("lisinopril ,
    ibuprofen" -> "lisinopril", "ibuprofen"): each drug asked about is its own concept."""
    return [part.strip() for part in _BETWEEN.split(text) if part.strip()]
