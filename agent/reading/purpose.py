"""Purpose phrasing: "meds for her sugar", "what is he taking for his pressure", "any
blood pressure tablets?".

The question names what the drug is for, not the drug: it asks for the drug class
taken for that indication (``indications`` in ``tools/concepts/data/drug_classes.toml``),
read as a yes/no over the patient's medication orders so that "nothing" is said about
the class that was searched, naming it.
"""

from __future__ import annotations

import re

from tools.concepts.vocabularies import vocabularies
from tools.vocabulary import normalize_name

__all__ = ["purpose_class"]

_PURPOSE = re.compile(
    r"\b(?:meds?|medications?|medicines?|drugs?|pills?|rx|treatment|tx|taking|take|takes|"
    r"on|anything|something|prescribed|given)\s+(?:for|to treat|to control|to manage)\s+"
    r"(?:(?:his|her|their|the|pt's|pts|patient's|this|that)\s+)?(?P<what>[a-z0-9' ]+?)\s*\??\s*$"
)


# "any blood pressure tablets?", "sugar meds": the indication named before the drug word.
_BEFORE_DRUG = re.compile(
    r"(?P<what>[a-z0-9' ]+?)\s+(?:meds?|medications?|medicines?|drugs?|pills?|tablets?|tabs)\b"
)


def purpose_class(question: str) -> str | None:
    """The drug class key a purpose question asks about ("antihypertensive"), or ``None``."""
    text = question.lower()
    match = _PURPOSE.search(text) or _BEFORE_DRUG.search(text)
    if match is None:
        return None
    what = normalize_name(match.group("what"))
    if match.re is _BEFORE_DRUG and _names_a_class(what):
        return None  # "opiate pain meds": the class is named, not what it is for
    classes = vocabularies().indication_classes
    if what in classes:
        return classes[what]
    words = what.split()
    for size in range(len(words), 0, -1):  # "his pressure lately" -> "pressure"
        for start in range(len(words) - size + 1):
            key = " ".join(words[start : start + size])
            if key in classes:
                return classes[key]
    return None


def _names_a_class(text: str) -> bool:
    names = vocabularies().class_names
    words = text.split()
    return any(
        " ".join(words[start : start + size]) in names
        for size in range(1, len(words) + 1)
        for start in range(len(words) - size + 1)
    )
