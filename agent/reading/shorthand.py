"""Ward shorthand in a question's scaffolding, rewritten to plain words before reading.

Clinicians type "h/o HTN?", "T2DM? y/n", "# encounters 2023", "1st visit?", "on X atm?",
"when was it first dx'd", "pt w/ AF?".  These marks shape the question (history of,
yes or no, how many, first, currently) but the reading's patterns are written for
plain words, and left in place they become part of the concept ("w atrial
fibrillation", "migraine y n").  Concept abbreviations (HTN, AF, BG) are not touched
here: they are resolved with the curated vocabularies against the record.

Source: common English clinical chart and messaging shorthand (ward slang included:
"probs" for problems, "sx"/"tx"/"abx" for symptoms/treatment/antibiotics, "c/o", "f/u",
"pmh"), and the everyday ways of saying "currently" ("atm", "rn", "at the moment",
"right now"); each rewrite is the plain phrase the abbreviation stands for.
"""

from __future__ import annotations

import re

from agent.reading.lay_events import rewrite_lay_events

__all__ = ["expand_shorthand"]

# (pattern, replacement), applied in order, case-insensitively.
_REWRITES: tuple[tuple[str, str], ...] = (
    (r"\by\s*/\s*n\b", " yes or no "),
    (r"\bh\s*/\s*o\b", " history of "),
    (r"\bs\s*/\s*p\b", " history of "),
    (r"\bw\s*/\s*o\b", " without "),
    (r"\bw\s*/(?=\s|\w)", " with "),
    (r"(?:^|(?<=\s))#\s*(?:of\s+)?", " number of "),
    (r"\b1st\b", "first"),
    (r"\b2nd\b", "second"),
    (r"\bdx'?d\b", "diagnosed"),
    (r"\bdxed\b", "diagnosed"),
    (r"\bdx\b", "diagnosis"),
    (r"^\s*(?P<what>[^?]+?)\s+(?:hx|h/o)\s*\?\s*$", r"history of \g<what>?"),
    (r"\bhx\b(?!\s+of)", "history of"),
    (r"\batm\b", "currently"),
    (r"\brn\b", "currently"),  # "right now" in messaging shorthand
    (r"\bchkd\b", "checked"),
    (r"\babt\b", "about"),
    (r"\bappts?\b", "visit"),
    (r"\benc\b", "encounter"),
    # "ER visits", "ED trips", "A&E attendances": the setting (never "ED" alone, a drug's
    # indication), which the planner passes to ``encounters`` as its kind.
    (
        r"\b(?:er|ed|a\s*&\s*e)\b(?=\s+(?:visits?|trips?|encounters?|attendances?|stays?))",
        "emergency",
    ),
    (r"\bprev\b", "previous"),
    (r"\brecap\b", "summarize"),
    (r"\bstill\b", "currently"),
    (r"\b(?:come|came|comes|coming) in\b", "visit"),
    # "why did he last see the doctor": a visit (not "which doctors has she seen", a roster).
    (
        r"\b(?:see|saw|seen|seeing|sees|visit|visited)\s+(?:the|a|her|his|their)?\s*"
        r"(?:doctor|doc|gp|physician|provider)\b",
        "visit",
    ),
    (r"\bprobs?\b(?:\s+list\b)?", "problems"),
    # "past medical history?", "PMH": the problem list with its resolved entries; "PMH of
    # X" asks about X.
    (r"\b(?:past\s+)?medical\s+(?:history|hx)\b(?!\s+of)", "past problems"),
    (r"\bpmhx?\b(?!\s+(?:of|\w))", "past problems"),
    (r"\bpmhx?\b", "history of"),
    (r"\bsx\b", "symptoms"),
    (r"\btx\b", "treatment"),
    (r"\bc\s*/\s*o\b", "complaining of"),
    (r"\bf\s*/\s*u\b", "follow up"),
    (r"\babx\b", "antibiotics"),
    (r"\bmeds?\s+list\b", "medications"),
    (
        r"\b(?:at\s+(?:the\s+)?(?:present|moment)|at\s+this\s+time|right\s+now|presently|"
        r"nowadays|these\s+days|now)\b",
        "currently",
    ),
    (r"\bwhat'?s\b", "what is"),
    (r"\bwhy'?s\b", "why is"),
    (r"\bhow'?s\b", "how is"),
)
_COMPILED = tuple((re.compile(p, re.IGNORECASE), r) for p, r in _REWRITES)
# "encounters since 2023 count", "visits in 2020 - how many": the count asked last.
_TRAILING_COUNT = re.compile(r"[\s\-\u2013:,]+(?:count|how many|total)\s*\??\s*$", re.IGNORECASE)


def expand_shorthand(question: str) -> str:
    """``question`` with its shorthand scaffolding in plain words (spacing collapsed)."""
    text = question
    if _TRAILING_COUNT.search(text):
        text = "how many " + _TRAILING_COUNT.sub("", text) + "?"
    for pattern, replacement in _COMPILED:
        text = pattern.sub(replacement, text)
    return rewrite_lay_events(text)  # "his last physical": a wellness visit
