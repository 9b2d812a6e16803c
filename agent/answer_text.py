"""How the verifier reads an answer's text: sentences, and the dates and numbers stated.

Deterministic text handling shared by the citation check (:mod:`agent.citations`), the
absence rules (:mod:`agent.absence`) and the question's reading (the numbers it states):
where a sentence ends (a citation that trails a full stop stays with its sentence),
which dates (as ``YYYY-MM-DD`` prefixes) and numbers (``7.10`` is ``7.1``) a text
states, which line's closing citation backs the sentences before it, and how a model's
draft is cleaned of chat markers and bracket look-alikes before any of that.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from agent.reading.periods import MONTH_NUMBERS
from tools.inert_text import LOW_QUOTES, strip_special_tokens

__all__ = [
    "CITATION_BRACKET",
    "claims_in",
    "clean_draft",
    "line_backing",
    "normalise_number",
    "rejoin",
    "split_sentences",
    "words",
]

CITATION_BRACKET = re.compile(r"\s?\[([^\[\]\n]{1,200})\]")
"""A bracketed run that may be a citation (``[3]``, ``[Observation/abc, 4]``)."""
_MONTHS = MONTH_NUMBERS  # one table of month words, owned by the reading's periods
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_FORMS = (
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})(?:-(?P<d>\d{1,2}))?(?:T[\d:.+\-Z]*)?\b"),
    re.compile(r"\b(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})\b"),
    re.compile(_MONTH + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})\b", re.IGNORECASE),
    re.compile(r"\b(?P<d>\d{1,2})\s+" + _MONTH + r",?\s+(?P<y>\d{4})\b", re.IGNORECASE),
    re.compile(_MONTH + r",?\s+(?P<y>\d{4})\b", re.IGNORECASE),
)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?!\w)")
_WORD = re.compile(r"[a-z0-9']+")


def normalise_number(token: str) -> str:
    """``"7.10"`` -> ``"7.1"``, ``"7.0"`` -> ``"7"``, ``"1,200"`` -> ``"1200"``."""
    text = token.replace(",", "")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    whole, dot, fraction = text.partition(".")
    return (whole.lstrip("0") or "0") + (dot + fraction if fraction else "")


def _dates_and_rest(text: str) -> tuple[list[str], str]:
    """Dates in ``text`` as ISO prefixes, and the text with them blanked out."""
    found: list[str] = []

    def take(match: re.Match[str]) -> str:
        parts = match.groupdict()
        month = parts.get("m") or _MONTHS.get((parts.get("month") or "").lower().rstrip("."))
        iso = f"{int(parts['y']):04d}-{int(month or 0):02d}"
        if parts.get("d"):
            iso += f"-{int(parts['d']):02d}"
        found.append(iso)
        return " "

    for form in _DATE_FORMS:
        text = form.sub(take, text)
    return found, text


def claims_in(text: str) -> tuple[list[str], list[str]]:
    """The dates (ISO, possibly partial) and normalised numbers a text states."""
    dates, rest = _dates_and_rest(CITATION_BRACKET.sub(" ", text))
    numbers = [normalise_number(n) for n in _NUMBER.findall(rest)]
    return dates, numbers


def split_sentences(text: str) -> list[str]:
    """Sentences (and list items), with a citation that trails a full stop kept with it."""
    sentences: list[str] = []
    for line in text.splitlines():
        in_line: list[str] = []
        for part in re.split(r"(?<=[.!?])\s+", line.strip()):
            leading = re.match(r"^(?:\[[^\[\]\n]{1,200}\]\s*)+", part)
            if leading and in_line:
                in_line[-1] += " " + leading.group(0).strip()
                part = part[leading.end() :]
            if part.strip():
                in_line.append(part.strip())
        sentences.extend(in_line)
    return sentences


def words(text: str) -> list[str]:
    """The lower-case words of ``text``, citations left out."""
    return _WORD.findall(CITATION_BRACKET.sub(" ", text).lower())


# Bracket look-alikes NFKC leaves alone (CJK lenticular, mathematical, ornamental):
# Unicode's open/close punctuation outside ASCII, except quotation-like forms.
# Built on first use: scanning 57,000 code points costs start-up time (about 20 ms) on
# paths that never clean a model's draft (``--model none``).
@functools.cache
def _bracket_lookalikes() -> dict[int, str]:
    return {
        code: "(" if unicodedata.category(chr(code)) == "Ps" else ")"
        for code in range(0x2000, 0x10000)
        if unicodedata.category(chr(code)) in ("Ps", "Pe") and chr(code) not in LOW_QUOTES
    }


def clean_draft(draft: str) -> str:
    """A model's draft with chat-template markers removed and bracket look-alikes made
    parentheses (fullwidth, lenticular, mathematical): nothing that was not checked as a
    citation can pass for one."""
    draft = strip_special_tokens(draft)
    return draft if draft.isascii() else draft.translate(_bracket_lookalikes())


def line_backing(draft: str, cited: list[list[str]]) -> list[list[str]]:
    """For each sentence, the references that back its claims.

    A sentence's own citations; for an uncited sentence, those of the next cited sentence
    on its line, since a line's closing citation covers what precedes it:
    ``"- Lormatine stopped. Dose halved [3]."`` quotes one record.
    """
    backing: list[list[str]] = []
    position = 0
    for line in draft.strip().splitlines():
        count = len(split_sentences(line))
        group = cited[position : position + count]
        position += count
        for index, refs in enumerate(group):
            later = next((r for r in group[index:] if r), None)
            backing.append(refs or later or [])
    return backing + cited[position:]


def rejoin(draft: str, sentences: list[str]) -> str:
    """Sentences back into text, keeping the draft's line structure where it had one."""
    if "\n" not in draft.strip():
        return " ".join(s for s in sentences if s)
    lines: list[str] = []
    remaining = iter(sentences)
    for line in draft.strip().splitlines():
        count = len(split_sentences(line))
        kept = " ".join(s for s in (next(remaining, "") for _ in range(count)) if s)
        if kept or not count:  # a line whose every sentence was dropped goes entirely
            lines.append(kept)
    return "\n".join(lines)
