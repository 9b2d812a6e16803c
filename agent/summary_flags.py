"""What a chart overview marks on a result line: out-of-range values and same-day conflicts.

A value is flagged only on the record's own word: an ``interpretation`` (already shown
by the evidence line as ``(H)``, ``(L)``, ...) or a ``referenceRange`` the value falls
outside.  Two results of one test on the same day that disagree are named together, so a
reader never sees only one of them.
"""

from __future__ import annotations

from collections import defaultdict

from tools.evidence import Evidence, EvidenceSeries, Item
from tools.result_flags import outside_range

__all__ = ["conflicts", "range_flag", "result_notes"]

_SHOWN_FLAGS = ("(H", "(L", "(HH", "(LL", "(abnormal", "(critical")


def range_flag(point: Evidence) -> str:
    """``H (ref 4-5.6)`` when the value lies outside the record's reference range, else ""."""
    if any(flag in point.value for flag in _SHOWN_FLAGS):
        return ""  # the record's interpretation is already on the line
    return outside_range(point.resource)


def _points(item: Item) -> tuple[Evidence, ...]:
    return item.points if isinstance(item, EvidenceSeries) else (item,)


def conflicts(items: list[Item]) -> list[str]:
    """ "eGFR on 2020-03-02: 74.5 and 36.1" for every test with disagreeing same-day values."""
    by_day: dict[tuple[str, str], list[Evidence]] = defaultdict(list)
    for item in items:
        label = item.label
        for point in _points(item):
            if point.date:
                by_day[(label or point.kind, point.date)].append(point)
    found = []
    for (label, day), points in by_day.items():
        values = list(dict.fromkeys(p.value for p in points if p.value))
        if len(values) > 1:
            found.append(f"{label} on {day}: {' and '.join(values)}")
    return found


def result_notes(item: Item) -> str:
    """The marks for one summary line: reference-range flags, then same-day conflicts."""
    flags = [f"{p.date} {flag}" for p in _points(item) if (flag := range_flag(p))]
    parts = []
    if flags:
        parts.append("outside reference range: " + "; ".join(flags))
    clashes = conflicts([item])
    if clashes:
        parts.append("conflicting same-day results: " + "; ".join(clashes))
    return (" (" + "; ".join(parts) + ")") if parts else ""
