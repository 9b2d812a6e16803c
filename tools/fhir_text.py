"""Small readers that turn FHIR datatypes into the few words a clinician would write.

Every token a 4B model reads costs latency on a laptop CPU, so these helpers are
deliberately lossy in the way a chart summary is: a CodeableConcept becomes its display
text without the SNOMED semantic tag, a dateTime becomes ``YYYY-MM-DD``, a Quantity becomes
``6.4 %``.  They never raise on malformed input: a resource missing a field yields ``""`` or
``None`` so one odd record cannot break a whole answer.
"""

from __future__ import annotations

import re
from typing import Any

from fhir_client.limits import MAX_NUMBER_CHARS
from tools.inert_text import NOT_A_DATE, fhir_date, inert_field, unit_text

__all__ = [
    "clean_display",
    "concept_text",
    "concept_texts",
    "date_text",
    "first_code",
    "format_number",
    "format_quantity",
    "reference_of",
    "resource_date",
    "resource_date_text",
    "short_date",
]

# SNOMED CT fully specified names end in a "semantic tag"; it is noise in a chart line.
_SEMANTIC_TAG = re.compile(
    r"\s*\((?:disorder|finding|procedure|situation|qualifier value|physical object|substance"
    r"|observable entity|regime/therapy|morphologic abnormality|body structure|event|product"
    r"|occupation|person|record artifact|environment|social concept|assessment scale"
    r"|navigational concept|medicinal product|clinical drug|organism|attribute|specimen"
    r"|cell structure|physical force|staging scale|tumor staging|intended site)\)\s*$",
    re.IGNORECASE,
)
_SPACE = re.compile(r"\s+")

# Units as UCUM writes them versus as a clinician reads them.
_UNIT_DISPLAY = {
    "mm[Hg]": "mmHg",
    "mL/min/{1.73_m2}": "mL/min/1.73m2",
    "[degF]": "degF",
    "Cel": "C",
    "kg/m2": "kg/m2",
    "/min": "/min",
    "{score}": "",
    "{#}": "",
    "1": "",
}
_UCUM_ANNOTATION = re.compile(r"\{[^}]*\}")


def clean_display(text: str | None) -> str:
    """Record text made inert (:mod:`tools.inert_text`), without a trailing SNOMED tag.

    Every name a line shows comes through here or :func:`~tools.inert_text.inert_field`.
    """
    if not text:
        return ""
    return _SEMANTIC_TAG.sub("", inert_field(_SPACE.sub(" ", text).strip()))


def concept_text(concept: Any) -> str:
    """The human name of a CodeableConcept: its ``text``, else the first coding display/code."""
    texts = concept_texts(concept)
    return texts[0] if texts else ""


def concept_texts(concept: Any) -> list[str]:
    """Every human-readable name a CodeableConcept carries (text, then coding displays).

    Used for name matching: a lab under a local code system is still found by the words
    its ``display`` or ``text`` contains.
    """
    if not isinstance(concept, dict):
        return []
    names: list[str] = []
    text = concept.get("text")
    if isinstance(text, str) and text.strip():
        names.append(clean_display(text))
    codings = concept.get("coding")
    if isinstance(codings, list):
        for coding in codings:
            if isinstance(coding, dict):
                display = coding.get("display")
                if isinstance(display, str) and display.strip():
                    cleaned = clean_display(display)
                    if cleaned not in names:
                        names.append(cleaned)
        if not names:
            for coding in codings:
                if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                    code = inert_field(coding["code"])
                    if code:
                        names.append(code)
                        break
    return names


def first_code(concept: Any) -> str:
    """The first coding's code of a CodeableConcept (status concepts have no text)."""
    if isinstance(concept, dict):
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                return inert_field(coding["code"])
    return ""


def short_date(value: Any) -> str | None:
    """``YYYY-MM-DD`` (or the shorter partial date given) from a FHIR date/dateTime/instant.

    ``None`` for anything that is not a FHIR date: a date field is never copied unchecked
    (see :func:`tools.inert_text.fhir_date`; lines show ``NOT_A_DATE`` for such values).
    """
    return fhir_date(value)


def format_number(value: Any) -> str:
    """A number as a clinician writes it: no float noise, no trailing zeros.

    A value that is not a number (a hostile or broken record) is shown as inert text;
    absurd magnitudes in scientific notation, so a ``1e308`` cannot fill a line.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return inert_field(value, MAX_NUMBER_CHARS) if isinstance(value, str) else "?"
    if value != value or value in (float("inf"), float("-inf")):
        return "?"
    magnitude = abs(value)
    if magnitude >= 1e15:
        return f"{value:.3g}"
    if float(value).is_integer():
        return str(int(value))
    text = f"{value:.2f}" if magnitude >= 1 else f"{value:.3g}"
    if "." in text and "e" not in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _unit_text(quantity: dict[str, Any]) -> str:
    unit = quantity.get("unit") or quantity.get("code") or ""
    if not isinstance(unit, str):
        return ""
    if unit in _UNIT_DISPLAY:
        return _UNIT_DISPLAY[unit]
    # "{...}" annotations carry no unit; a unit that ends in "/" once they are gone
    # ("mL/min/{1.73_m2}" style) would read as a typo, so drop the dangling slash.
    checked = unit_text(unit)
    return _UCUM_ANNOTATION.sub("", checked).strip().rstrip("/") if checked else ""


def format_quantity(quantity: Any) -> str:
    """``6.4 %``, ``128 mmHg``; empty when the quantity has no value."""
    if not isinstance(quantity, dict) or "value" not in quantity:
        return ""
    comparator = quantity.get("comparator")
    if comparator not in ("<", "<=", ">=", ">", "ad"):
        comparator = ""
    text = str(comparator) + format_number(quantity["value"])
    unit = _unit_text(quantity)
    return f"{text} {unit}" if unit else text


def reference_of(value: Any) -> str | None:
    """The ``reference`` string of a Reference, or ``None``."""
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and ref:
            return ref
    return None


def _period_start(period: Any) -> Any:
    return period.get("start") if isinstance(period, dict) else None


# Where each resource type keeps the date a clinician would sort it by, in order of preference.
_DATE_FIELDS: dict[str, tuple[str, ...]] = {
    "Observation": ("effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued"),
    "Condition": ("onsetDateTime", "onsetPeriod", "recordedDate"),
    "MedicationRequest": ("authoredOn",),
    "MedicationAdministration": ("effectiveDateTime", "effectivePeriod"),
    "AllergyIntolerance": ("onsetDateTime", "recordedDate"),
    "Immunization": ("occurrenceDateTime", "recorded"),
    "Encounter": ("period",),
    "Procedure": ("performedDateTime", "performedPeriod"),
    "DiagnosticReport": ("effectiveDateTime", "effectivePeriod", "issued"),
    "DocumentReference": ("date", "context"),
    "CarePlan": ("period", "created"),
    "Goal": ("startDate", "statusDate"),
    "Claim": ("billablePeriod", "created"),
    "ExplanationOfBenefit": ("billablePeriod", "created"),
    "Patient": ("birthDate",),
    "Device": ("manufactureDate",),
    "ImagingStudy": ("started",),
    "SupplyDelivery": ("occurrenceDateTime",),
    "CareTeam": ("period",),
}


def _date_values(resource: dict[str, Any]) -> list[Any]:
    values = []
    for field in _DATE_FIELDS.get(str(resource.get("resourceType")), ()):
        value = resource.get(field)
        if field == "context" and isinstance(value, dict):
            value = value.get("period")
        if isinstance(value, dict):
            value = _period_start(value)
        if value is not None:
            values.append(value)
    return values


def resource_date(resource: dict[str, Any]) -> str | None:
    """The clinically relevant date of a resource as ``YYYY-MM-DD``, or ``None``."""
    for value in _date_values(resource):
        date = short_date(value)
        if date:
            return date
    return None


def resource_date_text(resource: dict[str, Any]) -> str | None:
    """The date a line shows: the valid date, ``NOT_A_DATE`` when the record has a date
    field holding something else, ``None`` when it has none."""
    date = resource_date(resource)
    if date is None and _date_values(resource):
        return NOT_A_DATE
    return date


def date_text(value: Any) -> str | None:
    """One date field as a line shows it: valid date, ``NOT_A_DATE``, or ``None`` if absent."""
    if value is None:
        return None
    return short_date(value) or NOT_A_DATE
