"""A person named in the question, and whether that is the patient the thread is bound to.

"What is Milton Ortiz's blood pressure?" in a thread about someone else must not be
answered with that someone's blood pressure.  A name is two or more capitalised words
that read as a person: followed by "'s", or by a verb a question about a person uses
("Does Milton Ortiz have ..."), or after "for"/"about".  Synthea appends digits to
names ("Milton509"); they are ignored on both sides.
"""

from __future__ import annotations

import re
from typing import Any

from fhir_client.names import name_texts, plain_name

__all__ = ["named_person", "names_match", "patient_names"]

_NAME = r"(?P<name>[A-Z][a-z'\-]+(?:\d+)?(?:\s+[A-Z][a-z'\-]+(?:\d+)?){1,3})"
_AFTER = (
    r"(?:'s|\u2019s|\s+(?:have|has|had|born|last|take|takes|taking|get|got|been|ever|on|seen|"
    r"see|is|was|smoke|smokes|smoked|drink|drinks|use|uses|used|need|needs)\b)"
)
_PATTERNS = (
    re.compile(_NAME + _AFTER),
    re.compile(r"\b(?:for|about|of|patient|pt)\s+" + _NAME + r"\b"),
)
# "Gregoria Douglas a1c?": a name opening a terse question, before what is asked.
_LEADING = re.compile(r"^\s*" + _NAME + r"(?=\s*(?:[?:,\-]|\s+[a-z0-9#]|$))")
# Capitalised words that start a question or name a clinical thing, never a person.
_NOT_NAMES_TEXT = (
    "what when which who how does did do is was were are has have had show tell give "
    "list can could should the patient pt any hx blood pressure type essential "
    "diabetes hypertension covid plavix zocor lipitor norvasc"
)
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())


def _words(name: str) -> list[str]:
    return [w for w in re.sub(r"\d+", " ", name).lower().split() if w]


def _clinical_word(word: str) -> bool:
    """A word the vocabularies know ("Blood", "Heart", "Lipitor"): not part of a name."""
    from tools.concepts.vocabularies import vocabularies
    from tools.vocabulary import find_observation_concept

    vocab = vocabularies()
    key = word.lower()
    return (
        key in vocab.words
        or vocab.is_known_phrase(key)
        or find_observation_concept(key) is not None
    )


def named_person(question: str) -> str | None:
    """The person a question names ("Milton Ortiz"), or ``None``."""
    leading = _LEADING.match(question)
    if leading:
        name = re.sub(r"(?:'s|\u2019s)\b", "", leading.group("name"))  # "Ortiz's"
        words = re.sub(r"\d+", "", name).split()
        if not any(w.lower() in _NOT_NAMES or _clinical_word(w) for w in words):
            return " ".join(words)
    for pattern in _PATTERNS:
        for match in pattern.finditer(question):
            words = match.group("name").split()
            while words and words[0].lower() in _NOT_NAMES:
                words = words[1:]
            if len(words) >= 2 and not any(w.lower() in _NOT_NAMES for w in words):
                return re.sub(r"\d+", "", " ".join(words)).strip()
    return None


def patient_names(patient: dict[str, Any]) -> list[str]:
    """Every name of a Patient resource as "Given Family" strings (digits dropped)."""
    return [name for name in map(plain_name, name_texts(patient)) if name]


def names_match(person: str, names: list[str]) -> bool:
    """True when every word of ``person`` belongs to one of the patient's names."""
    wanted = set(_words(person))
    return any(wanted <= set(_words(name)) for name in names)
