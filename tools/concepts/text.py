"""Words as the concept matcher compares them: normalised, tokenised, Snowball-stemmed.

"Diabetic" and "Diabetes mellitus type 2 (disorder)" meet at the stem ``diabet``;
"allergies" and "Allergy to peanuts" at ``allergi``.  Normalisation is the one the rest of
the tools use (``tools.vocabulary.normalize_name``: lower case, accents and punctuation
gone, British spellings unified), so a phrase means the same here as in every tool.
"""

from __future__ import annotations

from functools import lru_cache

import snowballstemmer

from tools.vocabulary import normalize_name

__all__ = ["STOP_WORDS", "content_words", "stem", "stems"]

_STEMMER = snowballstemmer.stemmer("english")

#: Words that carry no concept in a question's concept phrase ("any blood thinners",
#: "his latest BP reading", "hx of diabetes"): dropped before matching.
_STOP_TEXT = (
    "a an the any some of for on in at to with and or is was are were be been has have had "
    "does did do his her their its my your pt patient patients he she they him them this "
    "that these those what which when how many much most last latest recent recently "
    "current currently first ever ago level levels value values result results reading "
    "readings test tests measurement measurements score history hx h o status check "
    "checked date dates time times number count list all record records chart please "
    "show tell me us about yr yrs year years month months day days"
)
STOP_WORDS = frozenset(_STOP_TEXT.split())


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """The Snowball (Porter 2) English stem of one normalised word."""
    result: str = _STEMMER.stemWord(word)
    return result


def content_words(text: str) -> list[str]:
    """The normalised words of ``text`` without stop words, in order."""
    return [w for w in normalize_name(text).split() if w not in STOP_WORDS]


def stems(text: str, *, keep_stop_words: bool = True) -> tuple[str, ...]:
    """The stems of every word of ``text`` (record text keeps its stop words)."""
    words = normalize_name(text).split()
    if not keep_stop_words:
        words = [w for w in words if w not in STOP_WORDS]
    return tuple(stem(w) for w in words)
