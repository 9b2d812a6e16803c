"""First-order questions: "when was lisinopril first prescribed?", "when did she start
metformin?".  The drug is named in the question's own words (a full product name may be
typed), so the planner asks ``medications`` for the first order of each matching drug
rather than reading a concept.  Apart from :mod:`agent.planner.rules` because it is one
pattern family with one use.
"""

from __future__ import annotations

import re

from agent.reading.rules import has_words as _has
from agent.state import ToolCall
from tools.vocabulary import normalize_name

__all__ = ["first_prescribed"]

_MED_FIRST = (
    re.compile(
        r"\bwhen (?:was|were|did) (?:the patient|she|he|they) (?:first |initially )?"
        r"(?:started|start|begin|began)(?: taking| on| using)? (?P<name>.+?)\s*\??\s*$"
    ),
    re.compile(
        r"\bwhen (?:was|were) (?:the patient |she |he |they )?(?:first |initially )?"
        r"(?:started on |put on )?(?P<name>.+?) (?:first |initially )?"
        r"(?:prescribed|ordered|started)\b"
    ),
    re.compile(r"\bfirst (?:prescription|order) (?:of|for) (?P<name>.+?)\s*\??\s*$"),
)
_MAX_DRUG = 120


def first_prescribed(question: str) -> ToolCall | None:
    """ "When was lisinopril 10 MG Oral Tablet first prescribed?": the drug's first order."""
    text = " ".join(question.strip().split())
    lowered = text.lower()
    if not any(word in lowered for word in ("prescri", "start", "began", "begin", "first")):
        return None
    for pattern in _MED_FIRST:
        match = pattern.search(lowered)
        if match is None:
            continue
        name = text[match.start("name") : match.end("name")].strip(" ?.")
        name = re.sub(r"^(?:the patient's|her|his|their|the)\s+", "", name, flags=re.I)
        if len(name) > _MAX_DRUG:
            name = name[:_MAX_DRUG].rsplit(" ", 1)[0]
        if name and not _has(normalize_name(name), "vaccin*", "immuniz*", "shot*"):
            return {"tool": "medications", "arguments": {"name": name, "mode": "first"}}
    return None
