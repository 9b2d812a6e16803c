"""FHIR date/dateTime values as comparable ranges, the way HAPI FHIR indexes them.

Every date search in FHIR compares *ranges*: `2020-03` means the whole of March,
and a Period means start..end. We index each value twice:

- as UTC instants in milliseconds (`low_ms`, `high_ms`), used when the search
  value carries a time, and
- as day ordinals `yyyymmdd` taken from the date *as written* (`low_ord`,
  `high_ord`), used when the search value has day, month or year precision.

The second form looks odd but is what HAPI does (its "ordinal dates for day
precision searches", on by default): `date=2020-03-15` matches
`2020-03-15T22:00:00-05:00` even though that instant is the 16th in UTC. Matching
HAPI id-for-id is a project requirement, so we copy the behaviour.

A dateTime with a time is indexed as a single instant (low == high), again as
HAPI does; date-only values cover their whole year, month or day.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum

#: Bounds used for an open-ended Period (missing start or end).
OPEN_LOW_MS = -(2**62)
OPEN_HIGH_MS = 2**62
OPEN_LOW_ORD = 0
OPEN_HIGH_ORD = 99_991_231

_DATE_RE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d+))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


class Precision(IntEnum):
    """How much of a date/dateTime was given; ordered from coarse to fine."""

    YEAR = 1
    MONTH = 2
    DAY = 3
    MINUTE = 4
    SECOND = 5
    MILLI = 6


@dataclass(frozen=True, slots=True)
class DateRange:
    """An inclusive range, both as UTC epoch milliseconds and as yyyymmdd ordinals."""

    low_ms: int
    high_ms: int
    low_ord: int
    high_ord: int
    precision: Precision


def _epoch_ms(moment: datetime) -> int:
    return int((moment - _EPOCH) // timedelta(milliseconds=1))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ordinal(year: int, month: int, day: int) -> int:
    return year * 10_000 + month * 100 + day


def parse_date(text: str, *, as_point: bool) -> DateRange:
    """Parse a FHIR date, dateTime or instant into a range.

    `as_point=True` is for indexing resource values: a value with a time becomes
    one instant. `as_point=False` is for search values: the range spans the
    value's precision (`...T10:00` covers the whole minute), per the FHIR spec.
    A time without a timezone is taken as UTC. Raises ValueError with a message a
    user can act on.
    """
    match = _DATE_RE.match(text.strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not a FHIR date; use YYYY, YYYY-MM, YYYY-MM-DD or "
            "YYYY-MM-DDThh:mm[:ss[.sss]][Z|+hh:mm]"
        )
    year = int(match["y"])
    month = int(match["m"] or 1)
    day = int(match["d"] or 1)
    try:
        if match["H"] is None:
            return _date_only_range(year, month, day, match)
        return _datetime_range(year, month, day, match, as_point=as_point)
    except ValueError as exc:  # e.g. month 13 or Feb 30
        raise ValueError(f"{text!r} is not a valid calendar date: {exc}") from None


def _date_only_range(year: int, month: int, day: int, match: re.Match[str]) -> DateRange:
    if match["m"] is None:
        precision, start = Precision.YEAR, datetime(year, 1, 1, tzinfo=UTC)
        end_month, end_day = 12, 31
        end = datetime(year + 1, 1, 1, tzinfo=UTC)
    elif match["d"] is None:
        precision, start = Precision.MONTH, datetime(year, month, 1, tzinfo=UTC)
        end_month, end_day = month, calendar.monthrange(year, month)[1]
        end = start + timedelta(days=end_day)
    else:
        precision, start = Precision.DAY, datetime(year, month, day, tzinfo=UTC)
        end_month, end_day = month, day
        end = start + timedelta(days=1)
    return DateRange(
        low_ms=_epoch_ms(start),
        high_ms=_epoch_ms(end) - 1,
        low_ord=_ordinal(year, month, day if match["d"] else 1),
        high_ord=_ordinal(year, end_month, end_day),
        precision=precision,
    )


def _datetime_range(
    year: int, month: int, day: int, match: re.Match[str], *, as_point: bool
) -> DateRange:
    seconds = int(match["S"] or 0)
    fraction = match["f"] or ""
    millis = int((fraction + "000")[:3]) if fraction else 0
    local = datetime(year, month, day, int(match["H"]), int(match["M"]), seconds, millis * 1000)
    tz = match["tz"]
    offset = timedelta(0)
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        offset = sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
    moment = local.replace(tzinfo=UTC) - offset
    low = _epoch_ms(moment)
    if match["S"] is None:
        precision, span = Precision.MINUTE, 60_000
    elif not fraction:
        precision, span = Precision.SECOND, 1_000
    else:
        precision, span = Precision.MILLI, 1
    high = low if as_point else low + span - 1
    written_day = _ordinal(year, month, day)
    return DateRange(low, high, written_day, written_day, precision)


def index_value(value: object) -> DateRange | None:
    """Index a resource's date element: a date/dateTime string or a Period dict.

    Returns None for shapes that carry no indexable date (Timing, strings that
    are not dates, such as `occurrenceString`), so odd data never blocks a load.
    """
    if isinstance(value, str):
        try:
            return parse_date(value, as_point=True)
        except ValueError:
            return None
    if isinstance(value, dict) and ("start" in value or "end" in value):
        start = index_value(value.get("start"))
        end = index_value(value.get("end"))
        if start is None and end is None:
            return None
        return DateRange(
            low_ms=start.low_ms if start else OPEN_LOW_MS,
            high_ms=end.high_ms if end else OPEN_HIGH_MS,
            low_ord=start.low_ord if start else OPEN_LOW_ORD,
            high_ord=end.high_ord if end else OPEN_HIGH_ORD,
            precision=(start or end or _never()).precision,
        )
    return None


def _never() -> DateRange:  # pragma: no cover - guarded by the caller
    raise AssertionError("unreachable")


#: Search prefixes we implement, each a SQL condition on the indexed range
#: columns (`{lo}`, `{hi}`) against the search value's range (`:low`, `:high`).
#: These mirror HAPI FHIR's DatePredicateBuilder, which follows the FHIR spec.
PREFIX_CONDITIONS: dict[str, str] = {
    "eq": "({lo} >= ? AND {hi} <= ?)",
    "ne": "({lo} < ? OR {hi} > ?)",
    "lt": "{lo} < ?",
    "le": "{lo} <= ?",
    "gt": "{hi} > ?",
    "ge": "{hi} >= ?",
    "sa": "{lo} > ?",
    "eb": "{hi} < ?",
}

_PREFIX_RE = re.compile(r"^(eq|ne|lt|le|gt|ge|sa|eb|ap)?(.*)$")


def parse_search_date(raw: str) -> tuple[str, DateRange]:
    """Split a date search value into (prefix, range); `ap` is refused explicitly."""
    match = _PREFIX_RE.match(raw)
    assert match is not None  # the pattern matches every string
    prefix = match[1] or "eq"
    if prefix == "ap":
        raise ValueError("the 'ap' (approximately) prefix is not supported; use ge/le instead")
    return prefix, parse_date(match[2], as_point=False)


def prefix_bounds(prefix: str, value: DateRange, *, ordinal: bool) -> list[int]:
    """The bound values that fill the `?` slots of PREFIX_CONDITIONS[prefix]."""
    low = value.low_ord if ordinal else value.low_ms
    high = value.high_ord if ordinal else value.high_ms
    return {
        "eq": [low, high],
        "ne": [low, high],
        "lt": [low],
        "le": [high],
        "gt": [high],
        "ge": [low],
        "sa": [high],
        "eb": [low],
    }[prefix]


def format_instant(moment: datetime) -> str:
    """An instant as FHIR wants it in meta.lastUpdated: UTC with milliseconds."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
