"""Whether the record itself marks a result as out of range, and on what word.

A result is judged only on the record's own word, never on a range this product knows:
its ``interpretation`` (HL7 v3 ObservationInterpretation: ``H``, ``LL``, ``A``, ``POS``
...) or a ``referenceRange`` its value falls outside.  A result with neither is not
judgeable, and an answer must say so rather than call it normal: Synthea writes neither,
so "any abnormal labs?" on a Synthea record is answered "the record does not say".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.fhir_text import first_code, format_number

__all__ = ["Judgement", "judge", "outside_range"]

Resource = dict[str, Any]

# Interpretation codes that say "within range" or "no finding"; every other code the
# record gives (H, L, A, POS, DET, >, ...) is a flag.
_NOT_A_FLAG = frozenset({"N", "NEG", "ND", "NR", "IND", "E", "EXP", "UNE", "S", "SDD"})


@dataclass(frozen=True)
class Judgement:
    """``flagged``: the record marks the result out of range.  ``judgeable``: it gives an
    interpretation or a reference range at all (so "not flagged" means something)."""

    flagged: bool
    judgeable: bool


def _number(quantity: Any) -> float | None:
    value = quantity.get("value") if isinstance(quantity, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def outside_range(resource: Resource) -> str:
    """``H (ref 4-5.6)`` when the value lies outside the record's first reference range,
    ``L (ref ...)`` below it, else ""."""
    number = _number(resource.get("valueQuantity"))
    ranges = resource.get("referenceRange")
    if number is None or not isinstance(ranges, list) or not ranges:
        return ""
    first = ranges[0] if isinstance(ranges[0], dict) else {}
    low, high = _number(first.get("low")), _number(first.get("high"))
    shown = f"{format_number(low) if low is not None else ''}-" + (
        format_number(high) if high is not None else ""
    )
    if high is not None and number > high:
        return f"H (ref {shown})"
    if low is not None and number < low:
        return f"L (ref {shown})"
    return ""


def _interpretation_codes(resource: Resource) -> list[str]:
    concepts = resource.get("interpretation")
    if not isinstance(concepts, list):
        return []
    return [code for concept in concepts if (code := first_code(concept))]


def judge(resource: Resource) -> Judgement:
    """The record's own verdict on one Observation (see the module docstring)."""
    codes = _interpretation_codes(resource)
    ranged = isinstance(resource.get("referenceRange"), list) and bool(resource["referenceRange"])
    flagged = any(code.upper() not in _NOT_A_FLAG for code in codes) or bool(
        outside_range(resource)
    )
    return Judgement(flagged=flagged, judgeable=bool(codes) or ranged)
