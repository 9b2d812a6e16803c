"""What an answer may say is missing: only what was searched, never what failed.

"No allergies are recorded" is a claim about the search: it holds only when an allergy
search ran and succeeded.  This module names what each tool looked for (its spec's
topic stems), tells a sentence that reports an absence (about the record, the search or
the evidence) from one that merely contains a "not", and finds a sentence that calls
absent what a failed search was looking for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from agent.answer_text import CITATION_BRACKET, split_sentences, words
from tools.registry import TOOLS, spec_of

__all__ = [
    "KNOWN_TOPICS",
    "denies_failed_topic",
    "failed_topics",
    "reports_absence",
    "uncited_content",
    "unsupported_uncited",
]

# What an absence report speaks of: the record, the search or the evidence.
_ABOUT_RECORD = re.compile(
    r"\b(?:record|records|recorded|chart|charted|file|documented|documentation|evidence|"
    r"found|listed|retrieved|search|searched|history|entries|results)\b",
    re.IGNORECASE,
)
# How an honest answer without citations reads: it says what is missing.
_ABSENCE = re.compile(
    r"\b(?:no|not|none|nothing|neither|cannot|can't|unable|missing|unknown|without|"
    r"absent|could not|does not|doesn't|isn't|aren't|wasn't|weren't)\b",
    re.IGNORECASE,
)


def uncited_content(text: str) -> bool:
    """True when ``text`` says something and does not read as "not found"."""
    return bool(words(text)) and not _ABSENCE.search(CITATION_BRACKET.sub(" ", text))


def reports_absence(sentence: str) -> bool:
    """True when an uncited sentence reads as a report about the record or the search
    ("No warfarin is recorded.", "The evidence does not answer the question."), not as
    a statement about the patient that merely contains a "not"."""
    plain = CITATION_BRACKET.sub(" ", sentence)
    return bool(_ABSENCE.search(plain) and _ABOUT_RECORD.search(plain))


def unsupported_uncited(text: str) -> list[str]:
    """The sentences of an answer that cites nothing which are not absence reports."""
    return [s for s in split_sentences(text) if words(s) and not reports_absence(s)]


# Phrases that report a failed retrieval honestly, as opposed to claiming absence.
_RETRIEVAL_FAILED = re.compile(
    r"could not be (?:retrieved|loaded|read)|couldn't be retrieved|could not retrieve|"
    r"unavailable|not available|unknown|failed|error",
    re.IGNORECASE,
)


# The stems every tool's spec names its retrieval with (``ToolMark.topics``): what an
# answer may call absent only when a search of it ran.
KNOWN_TOPICS = frozenset(stem for spec in TOOLS.values() for stem in spec.mark.topics)


def failed_topics(tool: str, arguments: Mapping[str, object]) -> tuple[str, ...]:
    """How an answer would name what ``tool`` (called with ``arguments``) looked for.

    A record-wide tool looked through every family, so it names every tool's topics.
    """
    named = arguments.get("name") or arguments.get("vaccine") or arguments.get("category")
    extra = (named.lower(),) if isinstance(named, str) and named else ()
    spec = spec_of(tool)
    if spec is not None and spec.record_wide:
        every = tuple(topic for other in TOOLS.values() for topic in other.mark.topics)
        return every + extra
    own = spec.topics if spec is not None else (tool.replace("_", " "),)
    return own + extra


def denies_failed_topic(sentence: str, failed_topics: Iterable[str]) -> str | None:
    """The failed topic a sentence claims is absent ("No allergies are recorded").

    When a search failed, "none recorded" is a claim the record cannot support: only
    "could not be retrieved" is honest about it.
    """
    lowered = CITATION_BRACKET.sub(" ", sentence).lower()
    if not _ABSENCE.search(lowered) or _RETRIEVAL_FAILED.search(lowered):
        return None
    return next((topic for topic in failed_topics if topic in lowered), None)
