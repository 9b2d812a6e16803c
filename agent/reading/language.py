"""Is the question English?  The rule path only reads English, so it must say so
rather than guess at a question it cannot parse.

Deliberately small: a question in another script (Cyrillic, CJK, ...) is not English;
a Latin-script question is not English when it holds more function words of Spanish,
French, German, Italian, Portuguese, Dutch, Polish, Swedish/Danish or Turkish
than of English (two at least, or one with
a letter English does not use, such as "é" or "ñ").  Clinical tokens (HbA1c,
LDL) are neutral, so "HbA1c?" stays English.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["is_english"]

_ENGLISH_TEXT = (
    "what when which who how is was were are the of a an did does do has have had her "
    "his their she he pt patient on any last latest most recent ever show me give "
    "list tell with for from in since between and or my get got been many much why "
    "high low there this that these those it its taking take at value values result "
    "results"
)
_ENGLISH = frozenset(_ENGLISH_TEXT.split())
_FOREIGN_TEXT = (
    "el los las del que cual cuál qué su sus fue una tiene cuáles cuándo cómo le les "
    "des du est sa son quelle quel quels avec pour une quand comment der das ist war "
    "hat und mit für ein eine wie hoch des welche wann il lo gli della è qual quale "
    "di quando os do da são quais quando het een welke op dit wanneer foi qual última "
    "ultima tem avuto nel quante jakie jaki jaka leki przyjmuje pacjent czy ma jest "
    "har patienten vilka vilken är och hur senaste hvad hvilke hastanın hastanin "  # noqa: RUF001
    "nedir kan şekeri var mı "  # noqa: RUF001
    "paziente paciente patiënt patientens patientin fuma fumo fumar la wat de laatste "
    "heeft seneste hvilken hvor er tem farmaci ultimo pressione tiene quién cuál"
)
_FOREIGN = frozenset(_FOREIGN_TEXT.split())
# Letters with diacritics that English words do not carry.
_DIACRITICS = frozenset("áéíóúñüöäßçãõèàìòâêîôûëïœ¿¡ıışğąęśźżńłåøæ")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _latin(char: str) -> bool:
    return not char.isalpha() or "LATIN" in unicodedata.name(char, "")


def is_english(question: str) -> bool:
    """True unless the question is in another script or reads as another language."""
    letters = [c for c in question if c.isalpha()]
    if letters and sum(1 for c in letters if not _latin(c)) > len(letters) // 4:
        return False
    words = [w.lower() for w in _WORD.findall(question)]
    english = sum(1 for w in words if w in _ENGLISH)
    foreign = sum(1 for w in words if w in _FOREIGN)
    marked = any(c in _DIACRITICS for c in question.lower())
    return not ((foreign >= 2 or (marked and foreign >= 1)) and foreign > english)
