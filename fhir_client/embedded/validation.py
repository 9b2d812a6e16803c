"""The minimum a resource needs to be stored: a known type, a valid FHIR id, and
nesting within ``MAX_JSON_DEPTH`` (checked here, once, so the store's own clients need
not check every response again: see ``FhirClient(own_store=...)``).

Apart from the store so the write path (:mod:`fhir_client.embedded.writing`) and the
facade can both use it without importing each other.
"""

from __future__ import annotations

from fhir_client._depth import JsonTooDeep, check_depth
from fhir_client.embedded.registry import check_type
from fhir_client.ids import is_fhir_id
from fhir_client.limits import MAX_JSON_DEPTH


class StoreError(ValueError):
    """A resource cannot be stored; the message names its position and the problem."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def validate_resource(resource: object, index: int) -> tuple[str, str]:
    """Check the minimum a stored resource needs; return (type, id)."""
    if not isinstance(resource, dict):
        raise StoreError(f"resource #{index} is not a JSON object", index)
    rtype, rid = resource.get("resourceType"), resource.get("id")
    if not isinstance(rtype, str) or not rtype:
        raise StoreError(f"resource #{index} has no resourceType", index)
    try:
        check_type(rtype)
    except ValueError as exc:
        raise StoreError(f"resource #{index}: {exc}", index) from None
    if not is_fhir_id(rid):
        shown = rid if isinstance(rid, str) and len(rid) <= 80 else type(rid).__name__
        raise StoreError(
            f"resource #{index} ({rtype}) has a missing or invalid id {shown!r}; FHIR ids are "
            "1-64 characters of A-Z, a-z, 0-9, '-' and '.'",
            index,
        )
    try:
        check_depth(resource)
    except JsonTooDeep:
        raise StoreError(
            f"resource #{index} ({rtype}/{rid}) is nested more than {MAX_JSON_DEPTH} levels "
            "deep (MAX_JSON_DEPTH); no FHIR resource is, so it was refused",
            index,
        ) from None
    return rtype, rid
