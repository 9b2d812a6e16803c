"""How FHIR string search compares text: case- and accent-insensitive, as HAPI does.

One function shared by what writes the string index (:mod:`fhir_client.embedded.extract`)
and what searches it (:mod:`fhir_client.embedded.query`, the patient list), so the two
always normalise alike; kept apart so the patient list imports no index extraction.
"""

from __future__ import annotations

import unicodedata

__all__ = ["normalize_string"]


def normalize_string(value: str) -> str:
    """Case- and accent-insensitive form used for FHIR string search (as HAPI)."""
    decomposed = unicodedata.normalize("NFD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
