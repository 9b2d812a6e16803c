"""Name matching and date windows shared by the tools.

Servers differ in text search (HAPI has ``:text``, many servers do not), so name filters
that have no code run client-side over what FHIR already returned: every word the user
typed must appear in the resource's ``text`` or a ``coding.display``.  Clinician
abbreviations for problems ("HTN", "CKD", "T2DM") are expanded first.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from typing import Any

from tools.fhir_text import concept_texts
from tools.vocabulary import normalize_name

__all__ = [
    "DATE_PATTERN",
    "check_date",
    "concept_matches",
    "date_params",
    "expand_condition_name",
    "text_matches",
]

DATE_PATTERN = r"^\d{4}(-\d{2}(-\d{2})?)?$"
_DATE = re.compile(DATE_PATTERN)

_CONDITION_ABBREVIATIONS = {
    "htn": "hypertension",
    "high blood pressure": "hypertension",
    "dm": "diabetes",
    "t2dm": "diabetes mellitus type 2",
    "dm2": "diabetes mellitus type 2",
    "type 2 diabetes": "diabetes mellitus type 2",
    "t1dm": "diabetes mellitus type 1",
    "ckd": "chronic kidney disease",
    "copd": "chronic obstructive",
    "chf": "heart failure",
    "hf": "heart failure",
    "cad": "coronary",
    "ihd": "ischemic heart disease",
    "mi": "myocardial infarction",
    "heart attack": "myocardial infarction",
    "afib": "atrial fibrillation",
    "af": "atrial fibrillation",
    "hld": "hyperlipidemia",
    "high cholesterol": "hyperlipidemia",
    "dyslipidemia": "hyperlipidemia",
    "uti": "urinary tract infection",
    "osa": "sleep apnea",
    "gerd": "reflux",
    "oa": "osteoarthritis",
    "ra": "rheumatoid arthritis",
    "hiv": "hiv",
    "tb": "tuberculosis",
    "stroke": "stroke",
    "cva": "stroke",
}


def check_date(value: str | None, argument: str) -> str | None:
    """Validate a ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` argument, with an actionable error."""
    if value is None or value == "":
        return None
    if not _DATE.match(value):
        raise ValueError(
            f"{argument}={value!r} is not a date; use YYYY, YYYY-MM or YYYY-MM-DD "
            "(for example 2021 or 2021-06-30)"
        )
    return value


def first_day(value: str) -> str:
    """``2021`` -> ``2021-01-01``, ``2021-06`` -> ``2021-06-01``; full dates unchanged."""
    return (value + "-01-01")[:10] if len(value) == 4 else (value + "-01")[:10]


def last_day(value: str) -> str:
    """``2021`` -> ``2021-12-31``, ``2024-02`` -> ``2024-02-29``; full dates unchanged."""
    if len(value) == 4:
        return f"{value}-12-31"
    if len(value) == 7:
        year, month = int(value[:4]), int(value[5:7])
        return f"{value}-{calendar.monthrange(year, month)[1]:02d}"
    return value


def date_params(since: str | None, until: str | None) -> dict[str, list[str]]:
    """FHIR ``date`` search prefixes for an inclusive window (partial dates allowed).

    The window is always sent at day precision: HAPI FHIR 8.8 reads ``ge2021``
    as "after the end of 2021" (like ``gt``), unlike the FHIR spec and our
    embedded store, while ``ge2021-01-01`` means the same on every server.
    """
    values = []
    since, until = check_date(since, "since"), check_date(until, "until")
    if since:
        values.append(f"ge{first_day(since)}")
    if until:
        values.append(f"le{last_day(until)}")
    return {"date": values} if values else {}


def expand_condition_name(name: str) -> str:
    """Expand a clinician abbreviation ("HTN" -> "hypertension") for text matching."""
    key = normalize_name(name)
    return _CONDITION_ABBREVIATIONS.get(key, key)


def text_matches(query: str, texts: Iterable[str]) -> bool:
    """True when every word of ``query`` occurs (as a word start) in one of ``texts``."""
    words = normalize_name(query).split()
    if not words:
        return True
    for text in texts:
        haystack = " " + normalize_name(text) + " "
        if all(f" {word}" in haystack for word in words):
            return True
    return False


def concept_matches(query: str, *concepts: Any) -> bool:
    """``text_matches`` over the names of one or more CodeableConcepts."""
    texts: list[str] = []
    for concept in concepts:
        if isinstance(concept, list):
            for item in concept:
                texts.extend(concept_texts(item))
        else:
            texts.extend(concept_texts(concept))
    return text_matches(query, texts)
