"""Pages of patients with the size of their records, on any FHIR server.

The cost of a page follows the page, never the store: on the embedded store it
is three indexed queries (:mod:`fhir_client.embedded.patients`); on a remote
server one ``Patient`` search (``name``, ``_count``, ``_offset``, ``_total``) and,
when counts are asked for, ``_summary=count`` per record type and patient, a few
at a time. ``$everything`` is never read to list patients.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from fhir_client._paging import bundle_resources
from fhir_client.client import FhirClient
from fhir_client.embedded import store_of
from fhir_client.embedded.registry import PATIENT_COMPARTMENT
from fhir_client.errors import InvalidRequest
from fhir_client.limits import (
    MAX_NAME_QUERY_CHARS,
    MAX_PATIENT_PAGE,
    REMOTE_COUNT_CONCURRENCY,
)

Resource = dict[str, Any]

#: Record types counted on a remote server (``Type?patient=id&_summary=count``): the
#: Patient compartment types the embedded store knows, which are the types Synthea
#: writes. Every one of them has a ``patient`` search parameter in FHIR R4.
REMOTE_COUNTED_TYPES: tuple[str, ...] = tuple(
    rtype for rtype, params in PATIENT_COMPARTMENT.items() if params
)


@dataclass(frozen=True, slots=True)
class PatientEntry:
    """One patient of a page: the Patient resource and its record's size by type."""

    patient: Resource
    resource_counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PatientPage:
    """A page of patients; ``total`` is every patient matching (None if the server
    would not say), so a caller can tell the user how many more there are."""

    entries: list[PatientEntry]
    total: int | None
    offset: int
    count: int

    @property
    def more(self) -> int | None:
        """How many matching patients come after this page (None: unknown)."""
        if self.total is None:
            return None
        return max(0, self.total - self.offset - len(self.entries))


def check_page_request(name: str | None, count: int, offset: int) -> None:
    """Refuse a page request outside the bounds, with a message saying which."""
    if not 1 <= count <= MAX_PATIENT_PAGE:
        raise ValueError(f"count must be between 1 and {MAX_PATIENT_PAGE}, got {count}")
    if offset < 0:
        raise ValueError(f"offset must be 0 or more, got {offset}")
    if name is not None and len(name) > MAX_NAME_QUERY_CHARS:
        raise ValueError(f"a name filter is at most {MAX_NAME_QUERY_CHARS} characters")


async def patient_page(
    client: FhirClient,
    *,
    name: str | None = None,
    count: int,
    offset: int = 0,
    only: Collection[str] | None = None,
    with_counts: bool = True,
) -> PatientPage:
    """Patients sorted by family then given name, ``name`` a prefix of any name part.

    ``only`` restricts the page to those patient ids (a token scoped to some
    patients); ``with_counts`` adds each record's resources by type.
    """
    check_page_request(name, count, offset)
    name = name.strip() if name and name.strip() else None
    store = store_of(client)
    if store is not None:
        rows = await asyncio.to_thread(
            store.patient_page,
            name=name,
            count=count,
            offset=offset,
            only=only,
            with_counts=with_counts,
        )
        entries = []
        for text in rows.patients:
            patient = orjson.loads(text)
            entries.append(PatientEntry(patient, rows.counts.get(str(patient["id"]), {})))
        return PatientPage(entries, rows.total, offset, count)
    return await _remote_page(client, name, count, offset, only, with_counts)


async def _remote_page(
    client: FhirClient,
    name: str | None,
    count: int,
    offset: int,
    only: Collection[str] | None,
    with_counts: bool,
) -> PatientPage:
    params: dict[str, str] = {
        "_count": str(count),
        "_sort": "family,given,_id",
        "_total": "accurate",
    }
    if offset:
        params["_offset"] = str(offset)
    if name:
        params["name"] = name
    if only is not None:
        if not only:
            return PatientPage([], 0, offset, count)
        params["_id"] = ",".join(sorted(only))
    try:
        bundle = await client.search_bundle("Patient", params)
    except InvalidRequest:
        # Sorting by name is optional in FHIR; a server that refuses it lists the
        # page in its own (stable) order rather than not at all.
        params["_sort"] = "_id"
        bundle = await client.search_bundle("Patient", params)
    patients = [r for r in bundle_resources(bundle) if r.get("resourceType") == "Patient"]
    total = bundle.get("total")
    entries = [PatientEntry(p) for p in patients[:count]]
    if with_counts:
        entries = await _with_remote_counts(client, entries)
    return PatientPage(entries, total if isinstance(total, int) else None, offset, count)


async def _with_remote_counts(
    client: FhirClient, entries: list[PatientEntry]
) -> list[PatientEntry]:
    """Each patient's counts by type via ``_summary=count`` (a few requests at a time)."""
    gate = asyncio.Semaphore(REMOTE_COUNT_CONCURRENCY)

    async def one(patient_id: str, rtype: str) -> tuple[str, str, int]:
        async with gate:
            return patient_id, rtype, await client.count(rtype, {"patient": patient_id})

    jobs = [
        one(str(entry.patient["id"]), rtype) for entry in entries for rtype in REMOTE_COUNTED_TYPES
    ]
    counts: dict[str, dict[str, int]] = {str(e.patient["id"]): {} for e in entries}
    for patient_id, rtype, number in await asyncio.gather(*jobs):
        if number:
            counts[patient_id][rtype] = number
    return [PatientEntry(e.patient, _with_patient(counts[str(e.patient["id"])])) for e in entries]


def _with_patient(counts: Mapping[str, int]) -> dict[str, int]:
    """The Patient itself counts as one resource of its record, as on the store."""
    return dict(sorted({**counts, "Patient": 1}.items()))
