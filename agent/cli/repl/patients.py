"""Choosing the patient for a chat: by FHIR id, or by a fragment of the name.

The user picks the patient; the model never does (the toolset is bound to the id
chosen here). Lookups go through FHIR REST only (``Patient/{id}``, ``Patient?name=``)
so choosing works the same on the embedded store and on a remote server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fhir_client.client import FhirClient
from fhir_client.errors import ResourceNotFound
from fhir_client.ids import is_fhir_id
from fhir_client.names import display_name

__all__ = ["PatientChoice", "find_patients", "list_patient_choices"]

MAX_LISTED = 200


@dataclass(frozen=True)
class PatientChoice:
    """What the user needs to recognise a patient: id, name and birth date."""

    id: str
    name: str
    birth_date: str

    @classmethod
    def of(cls, patient: Mapping[str, Any]) -> PatientChoice:
        return cls(
            id=str(patient["id"]),
            name=display_name(patient) or "(no name)",
            birth_date=str(patient.get("birthDate") or ""),
        )

    @property
    def label(self) -> str:
        born = f", born {self.birth_date}" if self.birth_date else ""
        return f"{self.name}{born} [Patient/{self.id}]"


def _sorted(patients: list[dict[str, Any]]) -> list[PatientChoice]:
    return sorted((PatientChoice.of(p) for p in patients), key=lambda c: (c.name, c.id))


async def list_patient_choices(client: FhirClient) -> list[PatientChoice]:
    """Every patient (up to ``MAX_LISTED``), sorted by name, without record counts.

    Unlike ``ehr-agent patients`` this reads no ``$everything``, so the list shows
    at once even on a large server.
    """
    found = await client.search("Patient", {"_count": str(MAX_LISTED)}, max_results=MAX_LISTED)
    return _sorted(found)


async def find_patients(client: FhirClient, text: str) -> list[PatientChoice]:
    """Patients matching ``text``: the one with that id, else those whose name matches.

    The name search is the server's ``Patient?name=`` (a prefix of any name part);
    when that finds nobody, a case-insensitive substring of the displayed name is
    tried over the listed patients, so "glas" still finds "Douglas31".
    """
    wanted = text.strip()
    if not wanted:
        return []
    if is_fhir_id(wanted):
        try:
            return [PatientChoice.of(await client.read("Patient", wanted))]
        except ResourceNotFound:
            pass
    by_name = await client.search("Patient", {"name": wanted}, max_results=MAX_LISTED)
    if by_name:
        return _sorted(by_name)
    lowered = wanted.casefold()
    return [c for c in await list_patient_choices(client) if lowered in c.name.casefold()]
