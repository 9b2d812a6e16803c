"""One compact line per FHIR resource: date, what, value with unit, status, interpretation.

The format is a chart shorthand the model can quote back: ``2023-04-02 HbA1c 6.4 % (H)``,
``2024-01-10 BP 128/82 mmHg``, ``2010-05-01 Hypertension active``.  Usual statuses
("final", "completed", "finished") are left out, unusual ones kept, because a line must
stay short (about 25 tokens) yet never hide that a result was preliminary or cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fhir_client.names import display_name
from tools.evidence import Evidence
from tools.fhir_text import (
    clean_display,
    concept_text,
    date_text,
    first_code,
    format_number,
    resource_date,
    resource_date_text,
    short_date,
)
from tools.inert_text import inert_field, resource_id_text, resource_type_text
from tools.observation_text import coding_codes, observation_label, observation_value, truncate
from tools.vocabulary import CVX, vaccine_group_for_code

__all__ = [
    "age_on",
    "coding_codes",
    "format_resource",
    "medication_name",
    "observation_label",
    "observation_value",
]

_USUAL_STATUS = {
    "Observation": {"final", "amended", "corrected"},
    "DiagnosticReport": {"final", "amended", "corrected"},
    "Immunization": {"completed"},
    "Procedure": {"completed"},
    "Encounter": {"finished"},
    "DocumentReference": {"current", "superseded"},
    "Claim": {"active"},
    "ExplanationOfBenefit": {"active"},
}


_MAX_CODE = 40  # a status, category or class code: FHIR codes are short tokens


def _code(value: Any) -> str:
    """A FHIR ``code`` (status, category, gender) as inert text; a non-string is nothing."""
    return inert_field(value, _MAX_CODE)


def _unusual_status(resource: dict[str, Any]) -> str:
    status = resource.get("status")
    if not isinstance(status, str):
        return ""
    usual = _USUAL_STATUS.get(str(resource.get("resourceType")), set())
    return "" if status in usual else _code(status)


def _join(*parts: str | None) -> str:
    return " ".join(p for p in parts if p)


def _observation(resource: dict[str, Any], when: str | None) -> tuple[str, str, str]:
    label = observation_label(resource.get("code"))
    value = observation_value(resource)
    return _join(when, label, value, _unusual_status(resource)), label, value


def _condition(resource: dict[str, Any], when: str | None) -> tuple[str, str, str]:
    name = clean_display(concept_text(resource.get("code"))) or "Condition"
    status = first_code(resource.get("clinicalStatus"))
    abated = date_text(resource.get("abatementDateTime"))
    if abated:
        status = f"{status or 'resolved'} {abated}"
    verification = first_code(resource.get("verificationStatus"))
    if verification and verification != "confirmed":
        status = _join(status, verification)
    return _join(when, truncate(name), status), name, status


def _medication_name(resource: dict[str, Any]) -> str:
    name = concept_text(resource.get("medicationCodeableConcept"))
    if not name and isinstance(resource.get("medicationReference"), dict):
        name = clean_display(resource["medicationReference"].get("display"))
    return name or "medication (unnamed)"


def medication_name(resource: dict[str, Any], medication: dict[str, Any] | None = None) -> str:
    """A MedicationRequest's drug name in full (lines truncate it; name matching must not)."""
    name = concept_text(medication.get("code")) if medication else ""
    return name or _medication_name(resource)


def _medication_request(
    resource: dict[str, Any], when: str | None, medication: dict[str, Any] | None = None
) -> tuple[str, str, str]:
    name = truncate(medication_name(resource, medication))
    status = _code(resource.get("status"))
    dosage = resource.get("dosageInstruction")
    as_needed = (
        isinstance(dosage, list)
        and bool(dosage)
        and isinstance(dosage[0], dict)
        and dosage[0].get("asNeededBoolean") is True
    )
    value = _join(status, "PRN" if as_needed else "", _reason(resource))
    return _join(when, name, value), name, value


def _allergy(resource: dict[str, Any], when: str | None) -> tuple[str, str, str]:
    name = truncate(concept_text(resource.get("code")) or "allergy")
    categories = resource.get("category")
    category = categories[0] if isinstance(categories, list) and categories else ""
    category = _code(category)
    details = [f"({category})" if category else ""]
    criticality = resource.get("criticality")
    if isinstance(criticality, str) and criticality != "unable-to-assess":
        details.append(f"crit {_code(criticality)}")
    reactions = []
    for reaction in resource.get("reaction") or []:
        if isinstance(reaction, dict):
            for manifestation in reaction.get("manifestation") or []:
                reactions.append(concept_text(manifestation))
            if isinstance(reaction.get("severity"), str):
                reactions.append(_code(reaction["severity"]))
    if reactions:
        details.append("reaction " + truncate(", ".join(r for r in reactions if r), 50))
    status = first_code(resource.get("clinicalStatus"))
    if status and status != "active":
        details.append(status)
    value = _join(*details)
    # "Allergy to substance" already says it: no "Allergy Allergy to substance".
    prefix = "" if name.lower().startswith(("allergy", "allergic", "intolerance")) else "Allergy"
    return _join(when, prefix, name, value), name, value


def _immunization(resource: dict[str, Any], when: str | None) -> tuple[str, str, str]:
    # "Influenza vaccine" rather than the 50-character CVX display (the code stays in the
    # raw resource for the API).
    cvx = coding_codes(resource.get("vaccineCode"), CVX)
    group = vaccine_group_for_code(cvx[0]) if cvx else None
    if group is not None:
        name = f"{group.label} vaccine"
    else:
        name = truncate(concept_text(resource.get("vaccineCode")) or "vaccine", 50)
    status = _unusual_status(resource)
    return _join(when, name, status), name, status


def _reason(resource: dict[str, Any]) -> str:
    reasons = [concept_text(c) for c in resource.get("reasonCode") or []]
    for ref in resource.get("reasonReference") or []:
        if isinstance(ref, dict) and isinstance(ref.get("display"), str):
            reasons.append(clean_display(ref["display"]))
    reasons = [r for r in reasons if r]
    return "for " + truncate(", ".join(reasons), 50) if reasons else ""


def _encounter(resource: dict[str, Any], when: str | None) -> tuple[str, str, str]:
    types = resource.get("type")
    name = concept_text(types[0]) if isinstance(types, list) and types else ""
    encounter_class = resource.get("class")
    class_code = _code(encounter_class.get("code")) if isinstance(encounter_class, dict) else ""
    name = truncate(name or "Encounter", 45)
    period = resource.get("period") if isinstance(resource.get("period"), dict) else {}
    end = date_text(period.get("end")) if isinstance(period, dict) else None
    until = f"to {end}" if end and when and end != when else ""
    value = _join(str(class_code) if class_code else "", until, _reason(resource))
    return _join(when, name, value, _unusual_status(resource)), name, value


def _procedure(resource: dict[str, Any], when: str | None) -> tuple[str, str, str]:
    name = truncate(concept_text(resource.get("code")) or "Procedure")
    value = _join(_reason(resource), _unusual_status(resource))
    return _join(when, name, value), name, value


def _diagnostic_report(resource: dict[str, Any], when: str | None) -> tuple[str, str, str]:
    name = truncate(observation_label(resource.get("code")), 45)
    results = resource.get("result")
    count = f"{len(results)} results" if isinstance(results, list) and results else ""
    value = _join(count, _unusual_status(resource))
    return _join(when, name, value), name, value


def _document(resource: dict[str, Any], when: str | None) -> tuple[str, str, str]:
    name = truncate(concept_text(resource.get("type")) or "Note", 45)
    return _join(when, name, _unusual_status(resource)), name, ""


def _care_plan(resource: dict[str, Any], when: str | None) -> tuple[str, str, str]:
    categories = resource.get("category") or []
    names = [concept_text(c) for c in categories if concept_text(c) != "assess-plan"]
    name = truncate(names[-1] if names else concept_text(resource.get("title")) or "Care plan")
    activities = []
    for activity in resource.get("activity") or []:
        if isinstance(activity, dict) and isinstance(activity.get("detail"), dict):
            text = concept_text(activity["detail"].get("code"))
            if text and text not in activities:
                activities.append(text)
    status = _code(resource.get("status"))
    value = _join(status, ("- " + truncate(", ".join(activities), 70)) if activities else "")
    return _join(when, "Care plan:", name, value), name, value


def _goal(resource: dict[str, Any], when: str | None) -> tuple[str, str, str]:
    name = truncate(concept_text(resource.get("description")) or "Goal", 70)
    status = _code(resource.get("lifecycleStatus"))
    return _join(when, "Goal:", name, status), name, status


def _billing(resource: dict[str, Any], when: str | None) -> tuple[str, str, str]:
    kind = str(resource.get("resourceType"))
    name = truncate(concept_text(resource.get("type")) or kind, 30)
    total = resource.get("total")
    if isinstance(total, list):  # ExplanationOfBenefit.total is a list of amounts.
        total = next((t.get("amount") for t in total if isinstance(t, dict)), None)
    amount = ""
    if isinstance(total, dict) and "value" in total:
        amount = f"{format_number(total['value'])} {_code(total.get('currency'))}".strip()
    value = _join(amount, _unusual_status(resource))
    return _join(when, kind, name, value), name, value


def age_on(birth: str, on: date) -> int | None:
    """Whole years between a ``YYYY-MM-DD`` birth date and ``on``."""
    try:
        born = date.fromisoformat(birth[:10])
    except ValueError:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _patient(resource: dict[str, Any], when: str | None) -> tuple[str, str, str]:
    name = inert_field(display_name(resource))
    gender = _code(resource.get("gender"))
    birth = date_text(resource.get("birthDate")) or ""
    deceased = date_text(resource.get("deceasedDateTime"))
    valid_deceased = short_date(resource.get("deceasedDateTime"))
    end = (
        date.fromisoformat(valid_deceased)
        if valid_deceased and len(valid_deceased) == 10
        else date.today()
    )
    age = age_on(birth, end) if short_date(birth) else None
    parts = [name, gender, f"born {birth}" if birth else ""]
    if age is not None:
        parts.append(f"age {age}" + (" at death" if deceased else ""))
    if deceased:
        parts.append(f"deceased {deceased}")
    elif resource.get("deceasedBoolean") is True:
        parts.append("deceased")
    value = ", ".join(p for p in parts if p)
    return "Patient: " + value, "Patient", value


def _generic(resource: dict[str, Any], when: str | None) -> tuple[str, str, str]:
    kind = str(resource.get("resourceType"))
    name = ""
    for key in ("code", "type", "vaccineCode", "medicationCodeableConcept", "procedureCode"):
        value = resource.get(key)
        name = concept_text(value[0] if isinstance(value, list) and value else value)
        if name:
            break
    supplied = resource.get("suppliedItem")
    if isinstance(supplied, dict) and supplied.get("itemCodeableConcept"):
        name = concept_text(supplied["itemCodeableConcept"])
    status = resource.get("status")
    value = _code(status) if isinstance(status, str) and status not in _GENERIC_USUAL else ""
    return _join(when, _GENERIC_NAMES.get(kind, kind), truncate(name), value), name or kind, value


_GENERIC_USUAL = {"active", "completed", "available", "final"}
_GENERIC_NAMES = {
    "MedicationAdministration": "Given",
    "SupplyDelivery": "Supplied",
    "ImagingStudy": "Imaging",
}


Formatter = Callable[[dict[str, Any], str | None], tuple[str, str, str]]
_FORMATTERS: dict[str, Formatter] = {
    "Observation": _observation,
    "Condition": _condition,
    "MedicationRequest": _medication_request,
    "AllergyIntolerance": _allergy,
    "Immunization": _immunization,
    "Encounter": _encounter,
    "Procedure": _procedure,
    "DiagnosticReport": _diagnostic_report,
    "DocumentReference": _document,
    "CarePlan": _care_plan,
    "Goal": _goal,
    "Claim": _billing,
    "ExplanationOfBenefit": _billing,
    "Patient": _patient,
}


def format_resource(
    resource: dict[str, Any], *, medication: dict[str, Any] | None = None
) -> Evidence:
    """The evidence line of any resource (an unknown type gets a generic line).

    ``medication`` is the ``Medication`` a MedicationRequest refers to, already read by the
    caller: formatting never does I/O, so it cannot follow a reference it should not.
    """
    kind = resource_type_text(resource.get("resourceType"))
    when = resource_date_text(resource)
    if kind == "MedicationRequest":
        text, label, value = _medication_request(resource, when, medication)
    else:
        text, label, value = _FORMATTERS.get(kind, _generic)(resource, when)
    return Evidence(
        reference=f"{kind}/{resource_id_text(resource.get('id'))}",
        text=text,
        date=resource_date(resource),
        kind=kind,
        label=label,
        value=value,
        resource=resource,
    )
