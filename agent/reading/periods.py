"""Time periods and counting in a question: "in 2023", "since 2020", "in the last 2 years".

A count is only right over the exact window the question names, so the window becomes
the tools' ``since``/``until`` at day precision (``2023-01-01`` .. ``2023-12-31``): a
partial date means different things on different servers (see ``tools.matching``).
The phrase that named the period is kept, so the answer can restate it ("... in
2023") and the planner can remove it before reading the rest of the question (the
"last" of "in the last 2 years" is not a request for the latest result).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = ["MONTH_NUMBERS", "Period", "find_period", "is_count_question"]

_MONTH_NAMES = [
    *("january", "february", "march", "april", "may", "june"),
    *("july", "august", "september", "october", "november", "december"),
]
_MONTH_ABBREVIATIONS = {name[:3]: i + 1 for i, name in enumerate(_MONTH_NAMES)} | {"sept": 9}
_MONTH_INDEX = {name: i + 1 for i, name in enumerate(_MONTH_NAMES)} | _MONTH_ABBREVIATIONS
#: Every English month name and abbreviation -> its number: the one table of month words
#: (the verifier reads "March 2, 2024" in answers with it).
MONTH_NUMBERS: dict[str, int] = dict(_MONTH_INDEX)
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTH_INDEX, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<year>(?:19|20)\d{2})(?![\d-])"
_NUMBER_WORDS = {
    "a": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
}
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "mo": 30, "year": 365, "yr": 365}
_COUNT_WORDS = ("how many", "number of", "count of", "how often", "how frequently", "times")

_BETWEEN = re.compile(
    r"\b(?:between|from)\s+(?P<start>(?:19|20)\d{2})\s+(?:and|to|until|-)\s+"
    r"(?P<end>(?:19|20)\d{2})(?![\d-])"
)
_IN_MONTH = re.compile(r"\b(?:in|during|of)?\s*" + _MONTH + r",?\s+" + _YEAR)
_SINCE = re.compile(r"\b(?:since|after|from)\s+(?:" + _MONTH + r",?\s+)?" + _YEAR)
_RELATIVE = re.compile(
    r"\b(?:in|during|over|within)?\s*(?:the\s+)?(?:last|past|previous)\s+"
    r"(?P<number>\d{1,3}|" + "|".join(_NUMBER_WORDS) + r")?\s*"
    r"(?P<unit>day|week|month|year|yr|mo)s?\b"
)
_CALENDAR = re.compile(r"\b(?:in\s+|during\s+)?(?P<which>last|this)\s+(?P<unit>year|yr|month|mo)\b")
_ON_DAY = re.compile(r"\b(?:on\s+)?(?P<day>(?:19|20)\d{2}-\d{2}-\d{2})\b")
_IN_YEAR = re.compile(r"\b(?:in|during|for|of)?\s*(?:the\s+year\s+)?" + _YEAR)


@dataclass(frozen=True)
class Period:
    """An inclusive window at day precision and the words that named it.

    ``until`` is ``None`` for an open end ("since 2020").  ``phrase`` is what an answer
    can repeat ("in 2023"); ``span`` is where it was found in the lower-cased question.
    """

    since: str
    until: str | None
    phrase: str
    span: tuple[int, int]


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _phrase(match: re.Match[str]) -> str:
    return " ".join(match.group(0).split())


def _relative(match: re.Match[str], today: date) -> Period:
    raw = match.group("number")
    number = int(raw) if raw and raw.isdigit() else _NUMBER_WORDS.get(raw or "", 1)
    unit = match.group("unit")
    if unit in ("year", "yr"):
        try:
            start = today.replace(year=today.year - number)
        except ValueError:  # 29 February
            start = today.replace(year=today.year - number, day=28)
    else:
        start = today - timedelta(days=number * _UNIT_DAYS[unit])
    phrase = _phrase(match)
    if not phrase.startswith(("in ", "during ", "over ", "within ")):
        phrase = "in " + phrase
    return Period(start.isoformat(), today.isoformat(), phrase, match.span())


def _calendar(match: re.Match[str], today: date) -> Period:
    unit, which = match.group("unit"), match.group("which")
    if unit in ("year", "yr"):
        year = today.year - (1 if which == "last" else 0)
        return Period(f"{year}-01-01", f"{year}-12-31", f"in {year}", match.span())
    first = today.replace(day=1)
    if which == "last":
        first = (first - timedelta(days=1)).replace(day=1)
    end = _month_end(first.year, first.month)
    phrase = f"in {_MONTH_NAMES[first.month - 1].capitalize()} {first.year}"
    return Period(first.isoformat(), end.isoformat(), phrase, match.span())


def find_period(question: str, today: date | None = None) -> Period | None:
    """The period a question names, if any (the first of the forms above that matches)."""
    text = question.lower()
    today = today or date.today()
    if match := _ON_DAY.search(text):
        day = match.group("day")
        try:
            date.fromisoformat(day)
        except ValueError:
            pass
        else:
            return Period(day, day, f"on {day}", match.span())
    if match := _BETWEEN.search(text):
        start, end = sorted((int(match.group("start")), int(match.group("end"))))
        return Period(f"{start}-01-01", f"{end}-12-31", _phrase(match), match.span())
    if match := _SINCE.search(text):
        year = int(match.group("year"))
        named = (match.group("month") or "").rstrip(".")
        month = _MONTH_INDEX.get(named, 1)
        phrase = f"since {_MONTH_NAMES[month - 1].capitalize()} {year}" if named else _phrase(match)
        return Period(date(year, month, 1).isoformat(), None, phrase, match.span())
    if match := _IN_MONTH.search(text):
        year, month = int(match.group("year")), _MONTH_INDEX[match.group("month").rstrip(".")]
        name = _MONTH_NAMES[month - 1].capitalize()
        last = _month_end(year, month).isoformat()
        return Period(f"{year}-{month:02d}-01", last, f"in {name} {year}", match.span())
    match = _RELATIVE.search(text)
    if match and (match.group("number") or re.search(r"\b(?:the|past)\b", match.group(0))):
        return _relative(match, today)  # "last year" alone is the previous calendar year
    if match := _CALENDAR.search(text):
        return _calendar(match, today)
    if match := _IN_YEAR.search(text):
        year = int(match.group("year"))
        return Period(f"{year}-01-01", f"{year}-12-31", f"in {year}", match.span())
    return None


# "encounter count for 2021", "vaccine count": a count of a record family (a measure's
# own name, "CD4 count", is a result, not a count of records).
_FAMILY_COUNT = re.compile(
    r"\b(?:visit|encounter|appointment|admission|attendance|vaccine|immunization|shot|"
    r"medication|prescription|condition|diagnos[ie]s|procedure)s?\s+count\b"
)


def is_count_question(question: str) -> bool:
    """True for "how many ...", "number of ...", "how often ...", "visit count"."""
    text = f" {question.lower()} "
    if _FAMILY_COUNT.search(text):
        return True
    return any(re.search(rf"\b{re.escape(word)}\b", text) for word in _COUNT_WORDS)
