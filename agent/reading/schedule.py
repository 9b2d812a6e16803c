"""Words that ask what is due, overdue or up to date: a schedule question.

"what vaccines is he due for", "is she due for a colonoscopy", "is his A1c overdue",
"are her shots up to date", "behind on screenings?": the record says what was done and
when, not what a care schedule asks for next, so no tool answers "due" and a "Yes" or
"No" would be a judgement the record does not make.  The span is cut from the text
before the concept phrase is read ("vaccines due" names the vaccines), and the answer
says what the product cannot judge, then what was last done
(:func:`agent.extractive_kinds.latest_of_each`).  Apart from :mod:`agent.reading.rules`
because it is one pattern with one use.
"""

from __future__ import annotations

import re

__all__ = ["SCHEDULE_WORDS", "cut_schedule_words"]

SCHEDULE_WORDS = re.compile(
    r"\bover\s?due\b(?:\s+(?:for|on|with)\b)?"
    # "due" but not a condition's name ("medication review due"), a cause ("due to"),
    # or a pregnancy's date ("due date").
    r"|(?<!review )\bdue\b(?!\s+(?:to|date)\b)(?:\s+(?:for|on)\b)?"
    r"|\bup[- ]to[- ]date\b(?:\s+(?:on|with)\b)?"
    r"|\b(?:caught up|behind)\s+(?:on|with)\b"
    r"|\bnext\b(?=(?:\s+\w+){1,3}\s+due\b)"  # "her next mammogram due": not a concept word
)
"""A schedule question's words (see the module docstring)."""


def cut_schedule_words(text: str) -> tuple[bool, str]:
    """Whether ``text`` asks a schedule question, and ``text`` without its words."""
    text, cut = SCHEDULE_WORDS.subn(" ", text)
    return bool(cut), text
