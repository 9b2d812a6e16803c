"""One line per patient: who they are and how much record there is.

Below the doors (``ehr-agent patients``, the API's ``/patients``, chat's chooser), and
free of LangGraph, so the core install lists patients.  A page at a time, from
:func:`fhir_client.directory.patient_page`: on the embedded store the counts come from its
index, on a remote server from ``_summary=count``, so listing costs the same with 10
patients or 1,000, and with 5 years of history or 90. Nothing reads ``$everything`` to
list patients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fhir_client.directory import PatientEntry, PatientPage, embedded_page, patient_page
from fhir_client.names import display_name

if TYPE_CHECKING:  # listing the embedded store needs neither the client nor httpx
    from fhir_client.client import FhirClient
    from fhir_client.embedded import EmbeddedStore


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


def summarize_patient(entry: PatientEntry) -> PatientSummary:
    """Build the summary from a page entry (the Patient and its counts by type)."""
    patient = entry.patient
    deceased_date = patient.get("deceasedDateTime")
    return PatientSummary(
        id=str(patient["id"]),
        name=display_name(patient),
        gender=patient.get("gender"),
        birth_date=patient.get("birthDate"),
        deceased=bool(patient.get("deceasedBoolean")) or deceased_date is not None,
        deceased_date=deceased_date,
        resource_counts=dict(sorted(entry.resource_counts.items())),
    )


@dataclass(frozen=True)
class PatientListing:
    """One page of summaries and where it sits in the whole list."""

    patients: list[PatientSummary]
    total: int | None
    offset: int

    @property
    def more(self) -> int | None:
        if self.total is None:
            return None
        return max(0, self.total - self.offset - len(self.patients))


async def list_patients(
    client: FhirClient | EmbeddedStore, *, name: str | None = None, count: int, offset: int = 0
) -> PatientListing:
    """A page of patients, sorted by family then given name, with counts by type.

    ``client`` is a FHIR client, or the embedded store itself (read directly)."""
    page = await patient_page(client, name=name, count=count, offset=offset)
    return _listing(page)


def list_embedded_patients(
    store: EmbeddedStore, *, name: str | None = None, count: int, offset: int = 0
) -> PatientListing:
    """:func:`list_patients` on the embedded store, without an event loop (see
    :func:`fhir_client.directory.embedded_page`)."""
    return _listing(embedded_page(store, name=name, count=count, offset=offset))


def _listing(page: PatientPage) -> PatientListing:
    return PatientListing([summarize_patient(e) for e in page.entries], page.total, page.offset)
