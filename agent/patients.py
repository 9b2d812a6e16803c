"""One line per patient: who they are and how much record there is.

Below the doors (``ehr-agent patients``, the API's ``/patients``, chat's chooser), and
free of LangGraph, so the core install lists patients.  Computed only through FHIR REST
(a Patient search, then ``$everything`` per patient) so the listing is the same on the
embedded store and on a remote server, and it doubles as a check that a load produced
complete records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fhir_client.client import FhirClient

# Shared directory resources that $everything may return because the record
# points at them; they are not part of the patient's own record (a Synthea
# patient bundle never contains them), so they are not counted.
DIRECTORY_TYPES = frozenset({"Practitioner", "PractitionerRole", "Organization", "Location"})

PATIENT_PAGE_SIZE = "200"
MAX_PAGES = 1000


@dataclass(frozen=True)
class PatientSummary:
    id: str
    name: str
    gender: str | None
    birth_date: str | None
    deceased: bool
    deceased_date: str | None
    resource_counts: dict[str, int]

    @property
    def resource_total(self) -> int:
        return sum(self.resource_counts.values())

    def as_json(self) -> dict[str, Any]:
        """The ``patients --json`` shape (snake_case keys, counts sorted by type)."""
        return {
            "id": self.id,
            "name": self.name,
            "gender": self.gender,
            "birth_date": self.birth_date,
            "deceased": self.deceased,
            "deceased_date": self.deceased_date,
            "resource_counts": self.resource_counts,
            "resource_total": self.resource_total,
        }


def display_name(patient: Mapping[str, Any]) -> str:
    """The official name (else the first) as "Given Family"; empty if unnamed."""
    names = [n for n in patient.get("name") or [] if isinstance(n, dict)]
    if not names:
        return ""
    chosen = next((n for n in names if n.get("use") == "official"), names[0])
    if isinstance(chosen.get("text"), str) and not chosen.get("family"):
        return str(chosen["text"])
    parts = [str(given) for given in chosen.get("given") or []]
    if chosen.get("family"):
        parts.append(str(chosen["family"]))
    return " ".join(parts)


def summarize_patient(patient: Mapping[str, Any], record: list[dict[str, Any]]) -> PatientSummary:
    """Build the summary from a Patient and its ``$everything`` result."""
    counts = Counter(
        resource["resourceType"]
        for resource in record
        if resource.get("resourceType") not in DIRECTORY_TYPES
    )
    deceased_date = patient.get("deceasedDateTime")
    return PatientSummary(
        id=str(patient["id"]),
        name=display_name(patient),
        gender=patient.get("gender"),
        birth_date=patient.get("birthDate"),
        deceased=bool(patient.get("deceasedBoolean")) or deceased_date is not None,
        deceased_date=deceased_date,
        resource_counts=dict(sorted(counts.items())),
    )


async def list_patients(client: FhirClient) -> list[PatientSummary]:
    """Every patient on the server, sorted by name then id, with counts by resource type."""
    patients = await client.search("Patient", {"_count": PATIENT_PAGE_SIZE}, max_pages=MAX_PAGES)
    summaries = []
    for patient in patients:
        record = await client.everything(str(patient["id"]), max_pages=MAX_PAGES)
        summaries.append(summarize_patient(patient, record))
    return sorted(summaries, key=lambda summary: (summary.name, summary.id))
