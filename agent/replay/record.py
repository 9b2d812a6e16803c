"""One patient's record as plain FHIR JSON, and the small readers the ground truth needs.

The ground truth must not share a code path with the tools it checks, so this module
reads resources with its own few lines of dict access (no ``tools`` import).  Records
come from ``Patient/$everything`` through :class:`FhirClient`, so a replay works the same
against the embedded store and a remote server (``--fhir-url``); references are then in
the server's ``Type/id`` form, which is what the agent cites.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

__all__ = [
    "PatientRecord",
    "RecordSource",
    "clean_name",
    "codes_of",
    "day",
    "display_of",
    "fetch_record",
    "moment",
    "note_text",
    "reference",
    "when",
]

Resource = dict[str, Any]

# SNOMED CT semantic tags ("Hypertension (disorder)") that no clinician says aloud.
_SEMANTIC_TAG = re.compile(
    r"\s*\((?:disorder|finding|situation|procedure|substance|organism|"
    r"product|regime/therapy|observable entity|morphologic abnormality|"
    r"physical object|event|qualifier value|environment)\)\s*$",
    re.I,
)


class RecordSource(Protocol):
    """What the replay needs from a FHIR client (``FhirClient`` satisfies it)."""

    async def everything(
        self, patient_id: str, *, max_pages: int | None = None
    ) -> list[Resource]: ...

    async def read(self, resource_type: str, resource_id: str) -> Resource: ...


@dataclass
class PatientRecord:
    """A patient's resources by type, plus the shared Medications their orders point to."""

    patient: Resource
    by_type: dict[str, list[Resource]] = field(default_factory=lambda: defaultdict(list))
    medications: dict[str, Resource] = field(default_factory=dict)  # "Medication/x" -> resource

    @property
    def id(self) -> str:
        return str(self.patient["id"])

    def of(self, resource_type: str) -> list[Resource]:
        return list(self.by_type.get(resource_type, []))

    @classmethod
    def from_resources(
        cls, resources: list[Resource], medications: dict[str, Resource] | None = None
    ) -> PatientRecord:
        patients = [r for r in resources if r.get("resourceType") == "Patient"]
        if len(patients) != 1:
            raise ValueError(f"expected exactly one Patient in the record, found {len(patients)}")
        record = cls(patients[0], medications=dict(medications or {}))
        for resource in resources:
            kind = str(resource.get("resourceType"))
            if kind == "Medication":
                record.medications[reference(resource)] = resource
            else:
                record.by_type[kind].append(resource)
        return record


async def fetch_record(client: RecordSource, patient_id: str) -> PatientRecord:
    """The patient's whole record via ``$everything``, with referenced Medications read too.

    Medication is outside the patient compartment, so a server may leave it out of
    ``$everything``; orders that point to one need it for the drug's name.
    """
    resources = await client.everything(patient_id)
    record = PatientRecord.from_resources(resources)
    for order in record.of("MedicationRequest"):
        target = (order.get("medicationReference") or {}).get("reference")
        known = isinstance(target, str) and target in record.medications
        if isinstance(target, str) and target.startswith("Medication/") and not known:
            record.medications[target] = await client.read("Medication", target.split("/")[1])
    return record


def reference(resource: Resource) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def codes_of(concept: Any) -> set[str]:
    """The codes of a CodeableConcept (any system)."""
    if not isinstance(concept, dict):
        return set()
    return {str(c.get("code")) for c in concept.get("coding") or [] if c.get("code")}


def display_of(concept: Any) -> str:
    """The human name of a CodeableConcept: its text, else the first coding's display."""
    if not isinstance(concept, dict):
        return ""
    if isinstance(concept.get("text"), str) and concept["text"].strip():
        return str(concept["text"]).strip()
    for coding in concept.get("coding") or []:
        if isinstance(coding.get("display"), str) and coding["display"].strip():
            return str(coding["display"]).strip()
    return ""


def clean_name(name: str) -> str:
    """A display without its SNOMED semantic tag: "Essential hypertension"."""
    return _SEMANTIC_TAG.sub("", name).strip()


_WHEN_KEYS = (
    "effectiveDateTime",
    "occurrenceDateTime",
    "performedDateTime",
    "onsetDateTime",
    "authoredOn",
    "recordedDate",
    "date",
    "issued",
)
_PERIOD_KEYS = ("effectivePeriod", "performedPeriod", "period", "onsetPeriod")


def when(resource: Resource) -> str:
    """The clinically relevant timestamp of a resource as written ("" if none)."""
    for key in _WHEN_KEYS:
        if isinstance(resource.get(key), str):
            return str(resource[key])
    for key in _PERIOD_KEYS:
        start = (resource.get(key) or {}).get("start")
        if isinstance(start, str):
            return start
    return ""


def moment(resource: Resource) -> datetime:
    """A comparable instant for ordering (UTC, naive); the oldest possible if undated.

    Strings are not compared directly because offsets differ between records.
    """
    text = when(resource)
    try:
        parsed = datetime.fromisoformat(text) if text else datetime.min
    except ValueError:
        return datetime.min
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def day(resource: Resource) -> str:
    """The day (YYYY-MM-DD) as written in the record, which is what answers state."""
    return when(resource)[:10]


def note_text(resource: Resource) -> str:
    """Decoded text of a DocumentReference or DiagnosticReport ("" when there is none)."""
    if resource.get("resourceType") == "DocumentReference":
        attachments = [c.get("attachment") or {} for c in resource.get("content") or []]
    else:
        attachments = list(resource.get("presentedForm") or [])
    parts: list[str] = []
    for attachment in attachments:
        data = attachment.get("data")
        if not isinstance(data, str):
            continue
        try:
            parts.append(base64.b64decode(data).decode("utf-8", errors="replace"))
        except (binascii.Error, ValueError):
            continue
    return "\n".join(parts)
