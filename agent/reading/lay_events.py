"""Lay names of a check-up visit and of an operation, rewritten to the product's words.

"When was his last physical?", "how many check-ups in 2019", "his yearly", "well-child
visit", "annual exam": a clinician means a wellness encounter, which Synthea and most
EHRs record as an ``Encounter`` ("General examination of patient", "Encounter for check
up", "Well child visit"), not the observations whose names contain "physical".  Each
such phrase is rewritten to "wellness visit", the kind the planner passes to
``encounters(encounter_type=...)`` (see :data:`agent.reading.rules.ENCOUNTER_KINDS`),
so every question shape the reading already knows (last, first, how many, in a year,
any) applies.  "Physical" is a visit only where it is the noun: "physical therapy",
"physical activity" and "physical exam findings" keep their readings, and so does a
physical exam whose content is asked ("what did the physical exam show").  Seeing the
dentist ("last dental visit", "dental check-up", "saw the dentist") is rewritten to
"dental visit" first: Synthea types that visit as a check-up too, and ``tools.dental``
keeps it out of the physicals.

"Operations", "operated on" and "surgical history" are rewritten to "surgery", the
word with which the planner asks ``procedures(kind="surgical")`` (the restriction's rule
is :mod:`tools.surgical`): the record's procedures include assessments and screenings
that are no surgery.  Applied with the shorthand (:func:`agent.reading.shorthand.
expand_shorthand`), so the reading and the planner see the same words.
"""

from __future__ import annotations

import re

__all__ = ["SURGERY_WORDS", "rewrite_lay_events"]

SURGERY_WORDS = ("surger*",)
"""The words (``has_words`` stems) with which the planner restricts procedures to surgery."""

# Asking what an exam found is asking for its findings, not when the visit was.
_CONTENT = re.compile(
    r"\b(?:show\w*|find\w*|found|reveal\w*|results?|notes?|say\w*|said|abnormal\w*|normal"
    r"|document\w*|look\w* like|mention\w*)\b",
    re.IGNORECASE,
)
# What may follow "physical" used as a noun: the question's end or a function word.
_NOUN_END = (
    r"(?=\s*(?:$|[?.!,;:)]|\b(?:was|were|is|in|on|at|for|this|last|done|dates?|with"
    r"|since|before|after|during|has|had|have|been|ever|happen\w*|record\w*|due|scheduled"
    r"|booked|yet|so far|to date|already)\b))"
)
_VISIT_NOUN = r"(?:exam(?:ination)?|visit|check(?:[- ]?up)?|appointment|review)"
_WELLNESS = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        # "annual physical", "routine check-up", "well-child visit", "wellness exam"
        r"\b(?:(?:annual|yearly|routine|regular|preventive|preventative|general)\s+)?"
        r"(?:physical|check[- ]?up|wellness|well[- ](?:child|baby|woman|man|adult)|well)\s+"
        + _VISIT_NOUN
        + r"(?P<plural>s)?\b",
        r"\b(?:annual|yearly|routine|preventive|preventative)\s+"
        + _VISIT_NOUN
        + r"(?P<plural>s)?\b",
        r"\bcheck[- ]?up(?P<plural>s)?\b(?!\s+on\b)",  # not "check up on her labs"
        r"\b(?:annual|yearly|routine)\s+physical(?P<plural>s)?\b",
        r"\bphysical(?P<plural>s)?\b" + _NOUN_END,
        # "when was his yearly?" (not "weight changed yearly?")
        r"(?:(?<=his )|(?<=her )|(?<=the )|(?<=last ))(?:annual|yearly)\b" + _NOUN_END,
    )
)
# "saw the dentist", "dental check-up", "dentist appointments": a dental visit, asked before
# the check-up words would make a physical of it (``tools.dental`` tells them apart).
_DENTAL = re.compile(
    r"\b(?:(?:see|saw|seen|seeing|sees|visit(?:ed|s)?|been to|go(?:ne)? to|went to)\s+)?"
    r"(?:(?:the|a|her|his|their)\s+)?"
    r"(?:dentist(?:'?s)?(?:\s+(?:check[- ]?up|exam|appointment|visit)(?P<plural>s)?)?"
    r"|dental\s+(?:check[- ]?up|exam(?:ination)?|appointment|cleaning|visit|care visit)"
    r"(?P<plurals>s)?)\b",
    re.IGNORECASE,
)
# Physical therapy in its usual names, as one word the reading keeps whole ("therapy"
# alone is a generic word: "statin therapy" asks about statins).  "PT" is physical therapy
# only as what is had or done ("has she had PT?", "referred to PT", "PT sessions"); "pt
# w/ AF", "does pt smoke" and a prothrombin time keep their meaning.
_SESSIONS = r"(?:\s+(?:sessions?|appointments?|treatments?|referrals?))?"
_PHYSIO = (
    re.compile(r"\b(?:physical\s+therap|physiotherap)(?:y|ies|ists?)\b" + _SESSIONS, re.IGNORECASE),
    re.compile(r"\bphysio\b" + _SESSIONS, re.IGNORECASE),
    re.compile(
        r"\b(?P<verb>had|have|get|gets|got|getting|doing|does|did|done|needs?|needed|any|"
        r"ordered|started|starting|receiving|received|attended|attending|referred to|"
        r"referral to|referral for|sent to)\s+pt\b" + _SESSIONS + r"(?=\s*(?:$|[?.!,;]|\b(?:"
        r"ever|before|recently|since|in|at|during|this|last|yet|so far)\b))",
        re.IGNORECASE,
    ),
    re.compile(r"\bpt\s+(?:sessions?|referrals?|appointments?|treatments?)\b", re.IGNORECASE),
)
_SURGERY: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), replacement)
    for pattern, replacement in (
        (r"\b(?:past\s+)?surgical\s+(?:history|hx|procedures)\b", "surgeries"),
        (r"\bsurgical\s+procedure\b", "surgery"),
        (r"\bpsh\b", "surgeries"),
        (r"\bsurg\b", "surgery"),  # ward shorthand: "surg hx"
        (r"\boperations\b", "surgeries"),
        (r"\boperation\b", "surgery"),
        (r"\b(?:been\s+)?operated(?:\s+on)?\b", "had surgery"),
    )
)


def _wellness(match: re.Match[str]) -> str:
    return "wellness visits" if match.groupdict().get("plural") else "wellness visit"


def _dental(match: re.Match[str]) -> str:
    plural = match.group("plural") or match.group("plurals")
    return "dental visits" if plural else "dental visit"


def _physio(match: re.Match[str]) -> str:
    verb = match.groupdict().get("verb") or ""
    kept = "" if verb.lower().startswith(("refer", "sent")) else verb  # the referral is PT's
    return f"{kept} physiotherapy".strip()


def rewrite_lay_events(text: str) -> str:
    """``text`` with check-up and operation phrases in the product's words (see above)."""
    text = _DENTAL.sub(_dental, text)
    for pattern in _PHYSIO:
        text = pattern.sub(_physio, text)
    if not _CONTENT.search(text):  # "what did the physical exam show": its findings
        for pattern in _WELLNESS:
            text = pattern.sub(_wellness, text)
    for pattern, replacement in _SURGERY:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())
