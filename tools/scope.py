"""The patient boundary: every FHIR request the tools make goes through ``PatientScope``.

The model chooses tools and clinical arguments, never the patient.  ``PatientScope`` is
bound to one patient id when the toolset is created and

- adds ``patient=<id>`` to every search (and refuses a caller's own ``patient``/``subject``
  parameter, so no code path can widen the search);
- drops any returned resource whose compartment reference (``subject`` or ``patient``) is
  not that patient, or whose type is not the one searched for: defence in depth against a
  server that ignores a parameter or a malformed resource;
- reads referenced resources only of shared, non-clinical types (Medication,
  Practitioner, Organization, Location), so a reference planted in a note or a tampered
  resource can never pull in another patient's record.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from fhir_client.errors import FhirError, SearchTruncated
from fhir_client.ids import is_fhir_id

__all__ = ["SHARED_TYPES", "FhirSearchClient", "PatientScope", "ScopedSearch"]

logger = logging.getLogger("tools.scope")

Resource = dict[str, Any]
Params = Mapping[str, str | Sequence[str]]

# Resources outside any patient compartment that a line may need a name from.
SHARED_TYPES = frozenset({"Medication", "Practitioner", "Organization", "Location"})
# Which element holds a resource's link to its patient (FHIR R4 Patient compartment).
_COMPARTMENT_FIELD = {
    "AllergyIntolerance": "patient",
    "Immunization": "patient",
    "Claim": "patient",
    "ExplanationOfBenefit": "patient",
    "Device": "patient",
    "SupplyDelivery": "patient",
}
_FORBIDDEN_PARAMS = {"patient", "subject", "_id", "_has", "_include", "_revinclude"}
_PAGE = 200


class FhirSearchClient(Protocol):
    """The part of ``fhir_client.FhirClient`` the tools use (eases fakes in tests)."""

    async def read(self, resource_type: str, resource_id: str) -> Resource: ...

    async def search(
        self,
        resource_type: str,
        params: Params | None = None,
        *,
        max_pages: int | None = None,
        max_results: int | None = None,
    ) -> list[Resource]: ...

    async def count(self, resource_type: str, params: Params | None = None) -> int: ...


class ScopedSearch:
    """The outcome of one scoped search: resources plus whether more exist."""

    def __init__(self, resources: list[Resource], *, truncated: bool, rejected: int) -> None:
        self.resources = resources
        self.truncated = truncated
        self.rejected = rejected


class PatientScope:
    """A FHIR client view restricted to one patient's compartment."""

    def __init__(self, client: FhirSearchClient, patient_id: str) -> None:
        if not is_fhir_id(patient_id):
            raise ValueError(
                f"{patient_id!r} is not a valid FHIR id (letters, digits, '-' and '.', "
                "at most 64); pass the Patient resource's id, not a name or reference"
            )
        self._client = client
        self.patient_id = patient_id
        self.patient_reference = f"Patient/{patient_id}"
        self._shared_cache: dict[str, Resource | None] = {}

    def belongs_to_patient(self, resource: Resource) -> bool:
        """True when the resource's compartment reference points at the bound patient."""
        kind = str(resource.get("resourceType"))
        if kind == "Patient":
            return resource.get("id") == self.patient_id
        field = _COMPARTMENT_FIELD.get(kind, "subject")
        value = resource.get(field)
        reference = value.get("reference") if isinstance(value, dict) else None
        if not isinstance(reference, str):
            return False
        reference = reference.split("/_history/")[0]
        return reference == self.patient_reference or reference.endswith(
            "/" + self.patient_reference
        )

    async def search(
        self, resource_type: str, params: Params | None = None, *, max_results: int
    ) -> ScopedSearch:
        """Search within the patient's compartment, at most ``max_results`` resources.

        ``truncated`` is True when the server may hold more matches than were returned.
        """
        query: dict[str, str | Sequence[str]] = dict(params or {})
        bad = _FORBIDDEN_PARAMS.intersection(k.split(":")[0] for k in query)
        if bad:
            raise ValueError(f"search parameters {sorted(bad)} are set by the patient scope")
        query["patient"] = self.patient_id
        # Small pages for "latest"; at most _PAGE per page for scans (servers cap _count).
        query.setdefault("_count", str(min(max_results + 1, _PAGE)))
        try:
            found = await self._client.search(resource_type, query, max_results=max_results + 1)
            truncated = len(found) > max_results
        except SearchTruncated as error:
            found, truncated = list(error.resources), True
        kept = [
            r
            for r in found[:max_results]
            if r.get("resourceType") == resource_type and self.belongs_to_patient(r)
        ]
        rejected = len(found[:max_results]) - len(kept)
        if rejected:
            logger.warning(
                "dropped %d %s resource(s) outside Patient/%s's compartment",
                rejected,
                resource_type,
                self.patient_id,
            )
        return ScopedSearch(kept, truncated=truncated, rejected=rejected)

    async def count(self, resource_type: str, params: Params | None = None) -> int | None:
        """How many resources match in the compartment, or None if the server cannot say."""
        query: dict[str, str | Sequence[str]] = {
            k: v for k, v in (params or {}).items() if k not in ("_sort", "_count")
        }
        if _FORBIDDEN_PARAMS.intersection(k.split(":")[0] for k in query):
            raise ValueError("count parameters may not set the patient")
        query["patient"] = self.patient_id
        try:
            return await self._client.count(resource_type, query)
        except FhirError:
            return None

    async def everything(self, *, max_pages: int) -> list[Resource]:
        """``Patient/<bound id>/$everything``, unfiltered: the caller applies
        ``belongs_to_patient`` (see ``tools.concepts.record``).

        Raises ``NotImplementedError`` when the client has no ``everything`` (a minimal
        client), ``FhirError`` when the server refuses, ``SearchTruncated`` past
        ``max_pages`` (with the pages read so far).
        """
        everything = getattr(self._client, "everything", None)
        if everything is None:
            raise NotImplementedError("this FHIR client offers no Patient/$everything")
        found: list[Resource] = await everything(self.patient_id, max_pages=max_pages)
        return found

    async def read_patient(self) -> Resource:
        """The bound Patient resource itself."""
        return await self._client.read("Patient", self.patient_id)

    async def read_shared(self, reference: str | None) -> Resource | None:
        """Read a shared resource (e.g. ``Medication/123``) that a patient resource names.

        Anything else (another Patient, a clinical resource, an absolute URL, a
        conditional reference) is refused and yields ``None``: the tools only follow
        references that cannot carry another patient's data.
        """
        if not reference:
            return None
        kind, _, resource_id = reference.partition("/")
        if kind not in SHARED_TYPES or not is_fhir_id(resource_id):
            return None
        if reference not in self._shared_cache:
            try:
                self._shared_cache[reference] = await self._client.read(kind, resource_id)
            except FhirError as error:
                logger.info("could not read %s: %s", reference, error)
                self._shared_cache[reference] = None
        return self._shared_cache[reference]
