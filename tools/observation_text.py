"""An Observation's name and value as one short phrase: ``HbA1c``, ``6.4 % (H)``,
``128/82 mmHg``.

Split from ``tools.formatting`` (which renders every resource type as one line) because
observations carry most of the record's numbers and most of its rendering rules: LOINC
labels and their noise words, components (blood pressure, panels), every FHIR value type,
and interpretation flags.
"""

from __future__ import annotations

import re
from typing import Any

from tools.fhir_text import (
    clean_display,
    concept_text,
    date_text,
    first_code,
    format_number,
    format_quantity,
)
from tools.inert_text import inert_field
from tools.vocabulary import LOINC, label_for_code

__all__ = ["MAX_TEXT", "coding_codes", "observation_label", "observation_value", "truncate"]

MAX_TEXT = 60
"""A name or value shown in a line is cut here (with an ellipsis): a line stays short."""
_BRACKETED = re.compile(r"\s*\[[^\]]*\]")
_LOINC_NOISE = re.compile(
    r"\s+(?:by automated count|by test strip|in serum or plasma|in blood|in serum"
    r"|- reported|by calculation|by coagulation assay)\b",
    re.IGNORECASE,
)
_INTERPRETATION = {"H": "H", "HH": "HH", "L": "L", "LL": "LL", "A": "abnormal", "AA": "critical"}


def truncate(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def coding_codes(concept: Any, system: str | None = None) -> list[str]:
    """Codes in a CodeableConcept, optionally only those of one system."""
    codes: list[str] = []
    if isinstance(concept, dict):
        for coding in concept.get("coding") or []:
            if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
                continue
            if system is None or coding.get("system") == system:
                codes.append(coding["code"])
    return codes


def observation_label(code: Any) -> str:
    """A short name for an observation code: table label, else its trimmed display."""
    for loinc in coding_codes(code, LOINC):
        label = label_for_code(loinc)
        if label:
            return label
    # LOINC's "[Mass/volume]" annotations go before the text is made inert (which turns
    # every bracket into a parenthesis).
    raw = _raw_concept_text(code)
    text = clean_display(_LOINC_NOISE.sub("", _BRACKETED.sub("", raw)).strip())
    return truncate(text or "Observation", 40)


def _raw_concept_text(concept: Any) -> str:
    """A CodeableConcept's text or first display as written (callers make it inert)."""
    if not isinstance(concept, dict):
        return ""
    candidates = [concept.get("text")]
    codings = concept.get("coding")
    if isinstance(codings, list):
        candidates += [c.get("display") for c in codings if isinstance(c, dict)]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return candidate
    return concept_text(concept)


def _element_value(element: dict[str, Any]) -> str:
    if "valueQuantity" in element:
        return format_quantity(element["valueQuantity"])
    if "valueCodeableConcept" in element:
        return truncate(concept_text(element["valueCodeableConcept"]))
    if isinstance(element.get("valueString"), str):
        return truncate(inert_field(element["valueString"]))
    if isinstance(element.get("valueBoolean"), bool):
        return "yes" if element["valueBoolean"] else "no"
    if isinstance(element.get("valueInteger"), int):
        return str(element["valueInteger"])
    if "valueDateTime" in element:
        return date_text(element["valueDateTime"]) or ""
    if "valueRange" in element and isinstance(element["valueRange"], dict):
        low = format_quantity(element["valueRange"].get("low"))
        high = format_quantity(element["valueRange"].get("high"))
        return f"{low}-{high}"
    if "dataAbsentReason" in element:
        return "no value (" + concept_text(element["dataAbsentReason"]) + ")"
    return ""


def _blood_pressure(components: list[Any]) -> str:
    values: dict[str, dict[str, Any]] = {}
    for component in components:
        if isinstance(component, dict):
            for code in coding_codes(component.get("code"), LOINC):
                if isinstance(component.get("valueQuantity"), dict):
                    values[code] = component["valueQuantity"]
    systolic, diastolic = values.get("8480-6"), values.get("8462-4")
    if not systolic or not diastolic:
        return ""
    return f"{format_number(systolic.get('value'))}/{format_number(diastolic.get('value'))} mmHg"


def _interpretation(resource: dict[str, Any]) -> str:
    flags = []
    for concept in resource.get("interpretation") or []:
        code = first_code(concept)
        if code in _INTERPRETATION:
            flags.append(_INTERPRETATION[code])
        elif code and code != "N":
            flags.append(concept_text(concept) or code)
    return f"({', '.join(flags)})" if flags else ""


def observation_value(resource: dict[str, Any]) -> str:
    """The value part of an Observation line, e.g. ``6.4 % (H)`` or ``128/82 mmHg``."""
    components = resource.get("component")
    value = _element_value(resource)
    if not value and isinstance(components, list) and components:
        value = _blood_pressure(components)
        if not value:
            parts = []
            for component in components[:4]:
                if isinstance(component, dict):
                    name = observation_label(component.get("code"))
                    parts.append(f"{truncate(name, 30)}: {_element_value(component)}")
            more = f" +{len(components) - 4} more" if len(components) > 4 else ""
            value = "; ".join(parts) + more
    flag = _interpretation(resource)
    return f"{value} {flag}".strip()
