"""Kept for imports written before :mod:`agent.record_source` (where this now lives)."""

from agent.record_source import (
    LOAD_REQUEST_DEADLINE_SECONDS,
    LOAD_TIMEOUT_SECONDS,
    READ_TIMEOUT_SECONDS,
    Notify,
    fill_from_fixtures,
    open_embedded_store,
    open_fhir_client,
)

__all__ = [
    "LOAD_REQUEST_DEADLINE_SECONDS",
    "LOAD_TIMEOUT_SECONDS",
    "READ_TIMEOUT_SECONDS",
    "Notify",
    "fill_from_fixtures",
    "open_embedded_store",
    "open_fhir_client",
]
