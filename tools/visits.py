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
from tools.fhir_text import concept_text, reference_of, resource_date

__all__ = [
    "ATTACHED_ORDER",
    "attached_to",
    "encounter_reasons",
    "pick_encounter",
    "reason_line",
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
    """The encounter's stated reasons (texts) and the conditions it names as reasons."""
    texts = [concept_text(c) for c in encounter.get("reasonCode") or [] if concept_text(c)]
    conditions: list[Resource] = []
    for item in encounter.get("reasonReference") or []:
        resource = record.resolve(reference_of(item))
        if resource is not None:
            conditions.append(resource)
        elif isinstance(item, dict) and isinstance(item.get("display"), str):
            texts.append(item["display"])
    return texts, conditions


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
