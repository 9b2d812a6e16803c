"""What happened at a visit, and why: everything the record attaches to one encounter.

"What happened at the last visit" is every resource whose ``encounter`` (or a
DocumentReference's ``context.encounter``) points at that Encounter: the results taken,
the procedures done, the drugs ordered, the diagnoses made, the vaccines given, the
reports and notes written.  "Why" is the encounter's ``reasonCode``, the conditions its
``reasonReference`` names, and the diagnoses recorded at it.  Read from the cached
``PatientRecord`` (``Patient/$everything``), so it costs no extra request.
"""

from __future__ import annotations

from typing import Any, Literal

from tools.concepts.record import PatientRecord
from tools.evidence import Evidence
from tools.fhir_text import clean_display, concept_text, reference_of, resource_date

__all__ = [
    "ATTACHED_ORDER",
    "attached_to",
    "encounter_reasons",
    "is_lab_result",
    "passed_note",
    "passed_over",
    "pick_encounter",
    "reason_line",
    "visits_with_labs",
    "why_line",
]

Resource = dict[str, Any]

#: The order a visit's contents are listed in (what a clinician reads first).
ATTACHED_ORDER = (
    "Condition",
    "Observation",
    "Procedure",
    "MedicationRequest",
    "MedicationAdministration",
    "Immunization",
    "DiagnosticReport",
    "CarePlan",
    "AllergyIntolerance",
    "ImagingStudy",
    "Device",
    "SupplyDelivery",
    "DocumentReference",
)


def _encounter_refs(resource: Resource) -> list[str]:
    refs: list[str] = []
    direct = reference_of(resource.get("encounter"))
    if direct:
        refs.append(direct)
    context = resource.get("context")
    if isinstance(context, dict):
        for item in context.get("encounter") or []:
            found = reference_of(item)
            if found:
                refs.append(found)
        found = reference_of(context)
        if found and found.startswith("Encounter/"):
            refs.append(found)
    return [r.split("/_history/")[0] for r in refs]


def is_lab_result(resource: Resource) -> bool:
    """An Observation filed under the laboratory category (not a vital sign, a survey
    or a social-history finding recorded at the same visit)."""
    if resource.get("resourceType") != "Observation":
        return False
    for category in resource.get("category") or []:
        codings = category.get("coding") if isinstance(category, dict) else None
        for coding in codings or []:
            if isinstance(coding, dict) and coding.get("code") == "laboratory":
                return True
    return False


def visits_with_labs(record: PatientRecord) -> set[str]:
    """Ids of the encounters some lab result points at, read in one pass over the
    results ("what labs were done at his last visit" skips visits that had none)."""
    return {
        ref.split("/")[-1]
        for r in record.of("Observation")
        if is_lab_result(r)
        for ref in _encounter_refs(r)
    }


def attached_to(encounter: Resource, record: PatientRecord) -> list[Resource]:
    """Every resource of the record that points at ``encounter``, in ``ATTACHED_ORDER``."""
    target = str(encounter.get("id"))
    found = [
        r
        for r in record.resources
        if r is not encounter and any(ref.split("/")[-1] == target for ref in _encounter_refs(r))
    ]
    rank = {kind: i for i, kind in enumerate(ATTACHED_ORDER)}
    return sorted(
        found,
        key=lambda r: (rank.get(str(r.get("resourceType")), len(rank)), resource_date(r) or ""),
    )


def encounter_reasons(
    encounter: Resource, record: PatientRecord
) -> tuple[list[str], list[Resource]]:
    """A resource's stated reasons (texts) and the conditions it names as reasons
    (an Encounter's, a MedicationRequest's, a Procedure's)."""
    texts = [concept_text(c) for c in encounter.get("reasonCode") or [] if concept_text(c)]
    conditions: list[Resource] = []
    for item in encounter.get("reasonReference") or []:
        resource = record.resolve(reference_of(item))
        if resource is not None:
            conditions.append(resource)
        elif isinstance(item, dict) and isinstance(item.get("display"), str):
            texts.append(clean_display(item["display"]))
    return texts, conditions


def why_line(line: Evidence, resource: Resource, record: PatientRecord) -> Evidence | None:
    """ "Reason for <order or procedure>: <condition>", citing the resource that states it."""
    texts, conditions = encounter_reasons(resource, record)
    texts += [concept_text(c.get("code")) for c in conditions if concept_text(c.get("code"))]
    reasons = list(dict.fromkeys(t for t in texts if t))
    if not reasons:
        return None
    what = line.label or line.undated_text
    return Evidence(
        reference=line.reference,
        text=f"{line.date or ''} Reason for {what}: {'; '.join(reasons)}".strip(),
        date=line.date,
        kind=line.kind,
        label=f"Reason for {what}",
        value="; ".join(reasons),
        resource=resource,
    )


def pick_encounter(candidates: list[Resource], which: Literal["last", "first"]) -> Resource | None:
    """The newest (or oldest) encounter of ``candidates``."""
    if not candidates:
        return None
    ordered = sorted(candidates, key=lambda r: resource_date(r) or "")
    return ordered[-1] if which == "last" else ordered[0]


def reason_line(encounter: Evidence, texts: list[str]) -> Evidence:
    """A line stating the visit's coded reasons, citing the encounter that records them."""
    return Evidence(
        reference=encounter.reference,
        text=f"{encounter.date or ''} Reason for visit: {'; '.join(texts)}".strip(),
        date=encounter.date,
        kind="Encounter",
        label="Reason for visit",
        value="; ".join(texts),
        resource=encounter.resource,
    )


def passed_over(
    encounter: Resource,
    every: list[Resource],
    held: list[Resource],
    which: Literal["last", "first"],
) -> list[Resource]:
    """The visits of ``every`` newer (for "last"; older for "first") than ``encounter``
    that are not in ``held``: those a visit with lab results was picked over."""
    day = resource_date(encounter) or ""
    chosen = {id(e) for e in held}

    def beyond(other: Resource) -> bool:
        other_day = resource_date(other) or ""
        return other_day > day if which == "last" else other_day < day

    return [e for e in every if id(e) not in chosen and beyond(e)]


def passed_note(passed: list[Resource], which: Literal["last", "first"]) -> tuple[str, ...]:
    """ "The 3 visits after it recorded no lab results; the newest of them is the
    second visit listed." (nothing when no visit was passed over)."""
    if not passed:
        return ()
    side, end = ("after", "newest") if which == "last" else ("before", "oldest")
    noun = "visit" if len(passed) == 1 else "visits"
    return (
        f"The {len(passed)} {noun} {side} it recorded no lab results; the {end} of them "
        "is the second visit listed.",
    )
