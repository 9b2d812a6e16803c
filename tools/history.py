"""Whole-history views: every vaccine with all its doses, and each drug's first order.

"Which vaccines has the patient received?" is about the whole life: a newest-N listing
drops the childhood series of an adult's record.  One line per vaccine that lists every
dose (each dose keeping its own citation) covers the history in a bounded number of
lines.  "When was X first prescribed?" likewise needs the earliest order of the drug
across every status, not the current order's date.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tools.evidence import Evidence, EvidenceSeries
from tools.vocabulary import normalize_name

__all__ = ["first_by_name", "group_doses"]

Resource = dict[str, Any]


def group_doses(doses: Iterable[Evidence]) -> list[EvidenceSeries]:
    """One series per vaccine (by its line label), doses oldest first.

    Vaccines are ordered by their most recent dose, newest first, like the other lists.
    """
    groups: dict[str, list[Evidence]] = {}
    for dose in doses:
        groups.setdefault(dose.label or dose.reference, []).append(dose)
    series = [
        EvidenceSeries(label=label, points=tuple(sorted(items, key=lambda e: e.date or "")))
        for label, items in groups.items()
    ]
    return sorted(series, key=lambda s: s.date or "", reverse=True)


def first_by_name(orders: Iterable[tuple[str, Evidence]], wanted: str | None) -> list[Evidence]:
    """The earliest order of each distinct drug (``(full name, line)`` pairs).

    With ``wanted``, a drug whose full name equals it (ignoring case and punctuation)
    wins outright; otherwise every drug whose name contains all its words is kept.
    Oldest first.
    """
    earliest: dict[str, tuple[str, Evidence]] = {}
    for name, line in orders:
        key = normalize_name(name)
        current = earliest.get(key)
        if current is None or (line.date or "") < (current[1].date or ""):
            earliest[key] = (name, line)
    if wanted:
        target = normalize_name(wanted)
        if target in earliest:
            return [earliest[target][1]]
        words = target.split()
        earliest = {
            key: pair
            for key, pair in earliest.items()
            if all(f" {word}" in f" {key} " for word in words)
        }
    return sorted((line for _, line in earliest.values()), key=lambda e: e.date or "")
