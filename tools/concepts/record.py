"""One patient's whole record, read once per toolset from ``Patient/$everything``.

The concept index and the record-wide search work over the same list of resources, read
through the FHIR API (never the embedded store's tables), so both behave the same on the
embedded store and on a remote server.  A server without ``$everything`` gets one bounded
search per clinical type instead.  Every resource passes the patient boundary
(``PatientScope.belongs_to_patient``); shared resources (Medication, Practitioner, ...)
that the record points at are kept aside for names only.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fhir_client.errors import FhirError, SearchTruncated
from fhir_client.limits import MAX_RECORD_PAGES, MAX_RECORD_RESOURCES
from tools.scope import SHARED_TYPES, PatientScope

__all__ = ["CLINICAL_TYPES", "PatientRecord", "load_record"]

logger = logging.getLogger("tools.concepts")

Resource = dict[str, Any]

#: Types read one by one when the server has no ``$everything`` (billing is left out:
#: claims restate the clinical record and answer no clinical question).
CLINICAL_TYPES = (
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
    "Observation",
    "Procedure",
    "Immunization",
    "Encounter",
    "AllergyIntolerance",
    "CarePlan",
    "CareTeam",
    "DiagnosticReport",
    "DocumentReference",
    "Goal",
    "Device",
    "ImagingStudy",
    "SupplyDelivery",
)
#: Restate the clinical record for payers; never concept evidence.
_BILLING_TYPES = frozenset({"Claim", "ExplanationOfBenefit", "Provenance", "Coverage"})


@dataclass
class PatientRecord:
    """The patient's resources by type, and the shared resources they point at."""

    patient_id: str
    resources: list[Resource]
    shared: dict[str, Resource] = field(default_factory=dict)
    truncated: bool = False
    """True when the record was larger than the bounds and was cut (the index says so)."""
    source: str = "$everything"
    by_type: dict[str, list[Resource]] = field(init=False)
    by_reference: dict[str, Resource] = field(init=False)

    def __post_init__(self) -> None:
        self.by_type = defaultdict(list)
        self.by_reference = {}
        for resource in self.resources:
            kind = str(resource.get("resourceType"))
            self.by_type[kind].append(resource)
            self.by_reference[f"{kind}/{resource.get('id')}"] = resource

    def of(self, *resource_types: str) -> list[Resource]:
        """The resources of the given types (in record order)."""
        return [r for t in resource_types for r in self.by_type.get(t, [])]

    def count(self, *resource_types: str) -> int:
        return sum(len(self.by_type.get(t, [])) for t in resource_types)

    def resolve(self, reference: str | None) -> Resource | None:
        """A resource of this record (or a shared one it names) by ``Type/id``."""
        if not reference:
            return None
        key = reference.split("/_history/")[0]
        if key.startswith("urn:uuid:"):
            return None
        tail = "/".join(key.split("/")[-2:])
        return self.by_reference.get(tail) or self.shared.get(tail)


def _split(
    scope: PatientScope, found: Iterable[Resource]
) -> tuple[list[Resource], dict[str, Resource]]:
    mine: list[Resource] = []
    shared: dict[str, Resource] = {}
    for resource in found:
        kind = resource.get("resourceType")
        if kind in SHARED_TYPES and isinstance(resource.get("id"), str):
            shared[f"{kind}/{resource['id']}"] = resource
        elif kind in _BILLING_TYPES or kind == "Patient":
            continue
        elif scope.belongs_to_patient(resource):
            mine.append(resource)
    return mine, shared


async def _by_searches(scope: PatientScope) -> tuple[list[Resource], bool]:
    found: list[Resource] = []
    truncated = False
    per_type = MAX_RECORD_RESOURCES // len(CLINICAL_TYPES)
    for resource_type in CLINICAL_TYPES:
        try:
            result = await scope.search(resource_type, None, max_results=per_type)
        except FhirError as error:
            logger.info("record index: %s not searchable: %s", resource_type, error)
            continue
        found.extend(result.resources)
        truncated = truncated or result.truncated
    return found, truncated


async def load_record(scope: PatientScope) -> PatientRecord:
    """Read the patient's whole record (bounded by ``fhir_client.limits``)."""
    source = "$everything"
    truncated = False
    try:
        found = await scope.everything(max_pages=MAX_RECORD_PAGES)
    except SearchTruncated as error:
        found, truncated = list(error.resources), True
    except (FhirError, NotImplementedError) as error:
        logger.info("$everything unavailable (%s); reading the record type by type", error)
        found, truncated = await _by_searches(scope)
        source = "searches"
    if len(found) > MAX_RECORD_RESOURCES:
        found, truncated = found[:MAX_RECORD_RESOURCES], True
    mine, shared = _split(scope, found)
    return PatientRecord(scope.patient_id, mine, shared, truncated=truncated, source=source)
