"""Property tests for FHIR date parsing and the date prefix conditions."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fhir_client.embedded.dates import (
    PREFIX_CONDITIONS,
    DateRange,
    Precision,
    index_value,
    parse_date,
    parse_search_date,
    prefix_bounds,
)

offsets = st.integers(min_value=-14 * 4, max_value=14 * 4).map(
    lambda quarters: timezone(timedelta(minutes=15 * quarters))
)
moments = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets
).map(lambda d: d.replace(microsecond=(d.microsecond // 1000) * 1000))


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


@given(moments)
def test_datetime_with_offset_is_one_utc_instant(moment: datetime) -> None:
    text = moment.isoformat(timespec="milliseconds")
    parsed = parse_date(text, as_point=True)
    assert parsed.low_ms == parsed.high_ms == _ms(moment)
    assert parsed.precision is Precision.MILLI
    assert parsed.low_ord == int(text[:10].replace("-", ""))  # the date as written


@given(moments)
def test_search_value_spans_its_precision(moment: datetime) -> None:
    text = moment.replace(microsecond=0).isoformat(timespec="seconds")
    parsed = parse_date(text, as_point=False)
    assert parsed.low_ms == _ms(moment.replace(microsecond=0))
    assert parsed.high_ms == parsed.low_ms + 999
    minute = parse_date(text[:16] + text[19:], as_point=False)
    assert minute.high_ms - minute.low_ms == 59_999


@given(st.dates(min_value=date(1800, 1, 1), max_value=date(2200, 12, 31)))
def test_partial_dates_cover_whole_periods(day: date) -> None:
    start_of_day = datetime(day.year, day.month, day.day, tzinfo=UTC)
    next_month = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    cases = {
        day.isoformat(): (start_of_day, start_of_day + timedelta(days=1)),
        day.isoformat()[:7]: (
            datetime(day.year, day.month, 1, tzinfo=UTC),
            datetime(next_month.year, next_month.month, 1, tzinfo=UTC),
        ),
        day.isoformat()[:4]: (
            datetime(day.year, 1, 1, tzinfo=UTC),
            datetime(day.year + 1, 1, 1, tzinfo=UTC),
        ),
    }
    for text, (low, next_start) in cases.items():
        parsed = parse_date(text, as_point=True)
        assert parsed.low_ms == _ms(low)
        assert parsed.high_ms == _ms(next_start) - 1
        last = (next_start - timedelta(days=1)).date()
        assert parsed.high_ord == last.year * 10_000 + last.month * 100 + last.day


@given(moments, moments)
def test_period_is_start_to_end_and_open_ends_are_unbounded(a: datetime, b: datetime) -> None:
    start, end = sorted([a, b], key=_ms)
    both = index_value({"start": start.isoformat(), "end": end.isoformat()})
    assert both is not None
    assert (both.low_ms, both.high_ms) == (_ms(start), _ms(end))
    open_end = index_value({"start": start.isoformat()})
    assert open_end is not None and open_end.high_ms > _ms(datetime(9000, 1, 1, tzinfo=UTC))


def _spec(prefix: str, lo: int, hi: int, x_lo: int, x_hi: int) -> bool:
    """FHIR R4 search prefixes, written from the spec text (as HAPI applies them)."""
    return {
        "eq": x_lo <= lo and hi <= x_hi,  # resource range inside the search range
        "ne": not (x_lo <= lo and hi <= x_hi),
        "lt": lo < x_lo,  # the resource starts before the search value
        "le": lo <= x_hi,
        "gt": hi > x_hi,  # the resource ends after the search value
        "ge": hi >= x_lo,
        "sa": lo > x_hi,
        "eb": hi < x_lo,
    }[prefix]


ranges = st.tuples(st.integers(0, 10_000), st.integers(0, 500)).map(lambda t: (t[0], t[0] + t[1]))


@given(st.sampled_from(sorted(PREFIX_CONDITIONS)), ranges, ranges)
def test_sql_prefix_conditions_match_the_spec(
    prefix: str, resource: tuple[int, int], search: tuple[int, int]
) -> None:
    db = sqlite3.connect(":memory:")
    value = DateRange(search[0], search[1], search[0], search[1], Precision.DAY)
    sql = "SELECT " + PREFIX_CONDITIONS[prefix].format(lo=str(resource[0]), hi=str(resource[1]))
    row = db.execute(sql, prefix_bounds(prefix, value, ordinal=True)).fetchone()
    assert bool(row[0]) == _spec(prefix, *resource, *search)


def test_prefix_bounds_pick_the_right_ends() -> None:
    prefix, value = parse_search_date("gt2020-03")
    assert prefix == "gt" and prefix_bounds(prefix, value, ordinal=True) == [20200331]
    prefix, value = parse_search_date("2020-03-15T10:00Z")
    assert prefix == "eq" and value.precision is Precision.MINUTE


@pytest.mark.parametrize("bad", ["2020-13", "2020-02-30", "yesterday", "20200101", "ap2020"])
def test_bad_search_dates_raise_with_a_hint(bad: str) -> None:
    with pytest.raises(ValueError, match=r"FHIR date|calendar|not supported"):
        parse_search_date(bad)
