"""Kept for imports written before :mod:`agent.patients` (where this now lives)."""

from agent.patients import DIRECTORY_TYPES, PatientSummary, display_name, list_patients

__all__ = ["DIRECTORY_TYPES", "PatientSummary", "display_name", "list_patients"]
