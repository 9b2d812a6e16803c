"""Reading values, dates and names out of free answer text, deliberately simply.

The rules are documented here because a score is only as meaningful as its matching:

* References (``[Type/id]``) are removed before anything else, so ids never count as
  numbers, dates or words.
* Dates: ISO ``YYYY-MM-DD`` and the spelled forms ``Dec 24, 2024`` / ``December 24 2024`` /
  ``24 Dec 2024``.  Any other format (``12/24/2024``) is not recognised, on purpose: it
  is ambiguous between US and European order.
* Numbers: decimal numerals after dates are removed.  An expected value matches a stated
  number within 0.05, which accepts rounding to one decimal (7.14 -> "7.1") and
  trailing zeros (7.10 == 7.1) but not rounding to an integer (202.16 -> "202").
* Names: lower-cased words of at least two characters (digits kept, so "stage 1" and
  "stage 2" differ), minus SNOMED semantic tags and dose-form/unit words ("oral",
  "tablet", "mg").  A name matches when its first four such words all occur in the
  answer: RxNorm and SNOMED names put the distinguishing words first, and displays
  (the tools', and clinicians' shorthand) often cut a long name after them
  ("Removal of supragingival plaque and calculus from all teeth…").
"""

from __future__ import annotations

import re

from fhir_client.ids import CITATION, citations_in

__all__ = [
    "IDENTIFYING_WORDS",
    "NUMBER_TOLERANCE",
    "cited_in_text",
    "contains_word",
    "dates_in",
    "declines_language",
    "first_sentence",
    "name_matches",
    "name_tokens",
    "number_matches",
    "numbers_in",
    "says_none",
    "states_absence",
    "strip_references",
    "yes_or_no",
]

NUMBER_TOLERANCE = 0.05
IDENTIFYING_WORDS = 4
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:T[\d:.+\-Z]*)?")
_MONTHS = {
    name: index + 1
    for index, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        )
    )
    for name in names
}
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_MONTH_FIRST = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}}),?\s+(\d{{4}})\b", re.I)
_DAY_FIRST = re.compile(rf"\b(\d{{1,2}})\s+{_MONTH},?\s+(\d{{4}})\b", re.I)
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w])")
_SEMANTIC_TAG = re.compile(r"\([a-z /]+\)")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_GENERIC_WORDS = frozenset(
    _words(
        "mg ml mcg ug unt unit units hr hour meq actuat oral tablet tablets tab capsule "
        "capsules cap solution injection injectable suspension release extended delayed "
        "chewable film coated topical cream ointment inhaler inhalation metered dose powder "
        "dry nasal spray transdermal system patch prefilled syringe auto injector pen kit "
        "vial of the and or to for with by in on due"
    )
)
_WORD_NUMBERS = {
    word: index
    for index, word in enumerate(
        _words(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen twenty"
        )
    )
}
_NEGATION = re.compile(r"\b(no|none|not|nothing|without|never)\b", re.I)


def strip_references(text: str) -> str:
    return CITATION.sub(" ", text)


def cited_in_text(text: str) -> list[str]:
    """The ``Type/id`` references written inline in an answer, in order, once each."""
    return list(dict.fromkeys(citations_in(text)))


def dates_in(text: str) -> set[str]:
    """Every date the text states, as YYYY-MM-DD."""
    plain = strip_references(text)
    found = {f"{y}-{m}-{d}" for y, m, d in _ISO_DATE.findall(plain)}
    for month, day, year in _MONTH_FIRST.findall(plain):
        found.add(f"{year}-{_MONTHS[month.lower().rstrip('.')]:02d}-{int(day):02d}")
    for day, month, year in _DAY_FIRST.findall(plain):
        found.add(f"{year}-{_MONTHS[month.lower().rstrip('.')]:02d}-{int(day):02d}")
    return found


def _without_dates(text: str) -> str:
    plain = strip_references(text)
    for pattern in (_ISO_DATE, _MONTH_FIRST, _DAY_FIRST):
        plain = pattern.sub(" ", plain)
    return plain


def numbers_in(text: str) -> list[float]:
    """Numbers stated outside references and dates ("112/51" gives 112 and 51)."""
    plain = _without_dates(text)
    values = [float(n) for n in _NUMBER.findall(plain)]
    values += [
        float(_WORD_NUMBERS[w]) for w in re.findall(r"[a-z]+", plain.lower()) if w in _WORD_NUMBERS
    ]
    return values


def number_matches(expected: float, stated: list[float]) -> bool:
    return any(abs(expected - value) <= NUMBER_TOLERANCE + 1e-9 for value in stated)


def name_tokens(name: str) -> tuple[str, ...]:
    """Identifying words in order: "Hydrochlorothiazide 25 MG Oral Tablet" -> (..., "25")."""
    text = _SEMANTIC_TAG.sub(" ", name.lower())
    words = re.findall(r"[a-z0-9]+", text)
    kept = [w for w in words if (len(w) >= 2 or w.isdigit()) and w not in _GENERIC_WORDS]
    return tuple(dict.fromkeys(kept))


def _answer_words(answer: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", _without_dates(answer).lower()))


def name_matches(names: tuple[str, ...], answer: str) -> bool:
    """True when the first identifying words of any of ``names`` all occur in the answer."""
    words = _answer_words(answer)
    plain = strip_references(answer).lower()
    for name in names:
        tokens = set(name_tokens(name)[:IDENTIFYING_WORDS])
        if tokens and tokens <= words:
            return True
        if not tokens and name.strip() and name.lower().strip() in plain:
            return True
    return False


def contains_word(text: str, phrase: str) -> bool:
    """Whole-word, case-insensitive: "male" is not found in "female"."""
    pattern = rf"(?<![a-z0-9]){re.escape(phrase.lower().strip())}(?![a-z0-9])"
    return re.search(pattern, strip_references(text).lower()) is not None


def first_sentence(text: str) -> str:
    """The first line or sentence: where a direct answer ("7 encounters") belongs."""
    plain = strip_references(text).strip()
    line = plain.splitlines()[0] if plain else ""
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", line)[0]


def says_none(text: str) -> bool:
    return _NEGATION.search(strip_references(text)) is not None


_YES = re.compile(r"^\W*yes\b", re.I)
_NO = re.compile(r"^\W*no\b", re.I)
_ABSENCE = re.compile(
    r"^\W*(no|none|nothing)\b|\b(no|none|nothing)\b[^.]*\b(recorded|found|record|retrieved|"
    r"documented|on file|among|mention)",
    re.I,
)
_DECLINED = re.compile(r"\b(language|english|not understand|could not understand)\b", re.I)


def yes_or_no(sentence: str) -> str | None:
    """ "yes" or "no" when a sentence opens with it, else ``None``."""
    plain = strip_references(sentence)
    if _YES.search(plain):
        return "yes"
    if _NO.search(plain):
        return "no"
    return None


def states_absence(answer: str) -> bool:
    """The answer's first sentence says there is none ("No X was found ...")."""
    first = first_sentence(answer)
    return _ABSENCE.search(first) is not None and "could not be retrieved" not in first


def declines_language(answer: str) -> bool:
    """The answer says the question's language was not understood."""
    return _DECLINED.search(strip_references(answer)) is not None
