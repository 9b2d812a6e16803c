"""Kept for imports written before :mod:`agent.patients` (where this now lives)."""

from agent.patients import (
    PatientListing,
    PatientSummary,
    list_patients,
    summarize_patient,
)
from fhir_client.names import display_name

__all__ = [
    "PatientListing",
    "PatientSummary",
    "display_name",
    "list_patients",
    "summarize_patient",
]
