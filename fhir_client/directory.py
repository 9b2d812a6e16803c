"""Pages of patients with the size of their records, on any FHIR server.

The cost of a page follows the page, never the store: on the embedded store it
is three indexed queries (:mod:`fhir_client.embedded.patients`); on a remote
server one ``Patient`` search (``name``, ``_count``, ``_offset``, ``_total``) and,
when counts are asked for, ``_summary=count`` per record type and patient sent
inside a few FHIR ``batch`` requests per page (one request per count only on a
server that takes no batch). ``$everything`` is never read to list patients.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import orjson

from fhir_client._paging import bundle_resources
from fhir_client.embedded import EmbeddedStore, store_of
from fhir_client.embedded.compartment import PATIENT_COMPARTMENT
from fhir_client.errors import (
    FhirHttpError,
    InvalidRequest,
    InvalidResponse,
    ResourceNotFound,
)
from fhir_client.limits import (
    MAX_NAME_QUERY_CHARS,
    MAX_PATIENT_PAGE,
    REMOTE_COUNT_BATCH_ENTRIES,
    REMOTE_COUNT_CONCURRENCY,
)

if TYPE_CHECKING:  # the embedded store is listed without a client (nor httpx, nor asyncio)
    import asyncio

    from fhir_client.client import FhirClient

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
    client: FhirClient | EmbeddedStore,
    *,
    name: str | None = None,
    count: int,
    offset: int = 0,
    only: Collection[str] | None = None,
    with_counts: bool = True,
) -> PatientPage:
    """Patients sorted by family then given name, ``name`` a prefix of any name part.

    ``only`` restricts the page to those patient ids (a token scoped to some
    patients); ``with_counts`` adds each record's resources by type.  ``client`` may be
    the embedded store itself: a caller that only lists (``ehr-agent patients``) then
    needs no client at all.
    """
    import asyncio

    check_page_request(name, count, offset)
    store = client if isinstance(client, EmbeddedStore) else store_of(client)
    if store is not None:
        return await asyncio.to_thread(
            embedded_page,
            store,
            name=name,
            count=count,
            offset=offset,
            only=only,
            with_counts=with_counts,
        )
    assert not isinstance(client, EmbeddedStore)  # handled above
    name = name.strip() if name and name.strip() else None
    return await _remote_page(client, name, count, offset, only, with_counts)


def embedded_page(
    store: EmbeddedStore,
    *,
    name: str | None = None,
    count: int,
    offset: int = 0,
    only: Collection[str] | None = None,
    with_counts: bool = True,
) -> PatientPage:
    """:func:`patient_page` on the embedded store, synchronously.

    Why a function of its own: a command that only lists an embedded store's patients
    (``ehr-agent patients``) calls this directly and needs no event loop: importing
    asyncio and starting a loop and a worker thread were a fifth of that command's
    start-up beyond typer (``bench/startup.py``).
    """
    check_page_request(name, count, offset)
    name = name.strip() if name and name.strip() else None
    rows = store.patient_page(
        name=name, count=count, offset=offset, only=only, with_counts=with_counts
    )
    entries = []
    for text in rows.patients:
        patient = orjson.loads(text)
        entries.append(PatientEntry(patient, rows.counts.get(str(patient["id"]), {})))
    return PatientPage(entries, rows.total, offset, count)


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
    """Each patient's counts by type: ``_summary=count`` searches sent inside FHIR
    ``batch`` requests of ``REMOTE_COUNT_BATCH_ENTRIES`` searches each.

    Why a batch: one ``_summary=count`` per record type and patient is about twenty
    HTTP requests per patient listed, a thousand for a page of 50; batched, the same
    searches take one request per ``REMOTE_COUNT_BATCH_ENTRIES`` of them, so listing a
    remote server costs a few round trips per page. A server that refuses a batch of
    searches (or answers an entry without a total) gets those counts asked one by one,
    as before, so listing never fails for lack of batch support.
    """
    import asyncio

    wanted = [(str(e.patient["id"]), rtype) for e in entries for rtype in REMOTE_COUNTED_TYPES]
    size = REMOTE_COUNT_BATCH_ENTRIES
    chunks = [wanted[start : start + size] for start in range(0, len(wanted), size)]
    gate = asyncio.Semaphore(REMOTE_COUNT_CONCURRENCY)
    counts: dict[str, dict[str, int]] = {str(e.patient["id"]): {} for e in entries}
    for found in await asyncio.gather(*(_batch_counts(client, chunk, gate) for chunk in chunks)):
        for (patient_id, rtype), number in found.items():
            if number:
                counts[patient_id][rtype] = number
    return [PatientEntry(e.patient, _with_patient(counts[str(e.patient["id"])])) for e in entries]


CountKey = tuple[str, str]
"""(patient id, record type)."""


async def _batch_counts(
    client: FhirClient, wanted: list[CountKey], gate: asyncio.Semaphore
) -> dict[CountKey, int]:
    """The counts of ``wanted`` from one batch request; any the server would not give
    in a batch are asked separately (``GET Type?patient=id&_summary=count``)."""
    import asyncio

    found: dict[CountKey, int] = {}
    if not _batch_refused.get(client, False):
        bundle = {
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [
                {"request": {"method": "GET", "url": _count_url(patient_id, rtype)}}
                for patient_id, rtype in wanted
            ],
        }
        try:
            async with gate:
                response = await client.transaction(bundle)
        except (InvalidRequest, ResourceNotFound, InvalidResponse):
            _batch_refused[client] = True
        except FhirHttpError as error:
            if error.status_code not in _NO_BATCH_STATUSES:
                raise
            _batch_refused[client] = True
        else:
            found = _batch_totals(wanted, response)
            if not found:
                _batch_refused[client] = True  # e.g. a server whose batch takes writes only
    missing = [key for key in wanted if key not in found]

    async def one(key: CountKey) -> tuple[CountKey, int]:
        async with gate:
            return key, await client.count(key[1], {"patient": key[0]})

    found.update(await asyncio.gather(*(one(key) for key in missing)))
    return found


_NO_BATCH_STATUSES = frozenset({405, 501})
"""HTTP statuses a server answers ``POST [base]`` with when it takes no batches."""

_batch_refused: weakref.WeakKeyDictionary[FhirClient, bool] = weakref.WeakKeyDictionary()
"""Clients whose server refused (or could not answer) a batch of counts: later pages go
straight to one request per count instead of failing the same way again."""


def _count_url(patient_id: str, rtype: str) -> str:
    return f"{rtype}?{urlencode({'patient': patient_id, '_summary': 'count'})}"


def _batch_totals(wanted: list[CountKey], response: Resource) -> dict[CountKey, int]:
    """Totals from a batch-response, by position (FHIR keeps the request order);
    entries that failed or carry no numeric total are left out."""
    answers = response.get("entry")
    if response.get("type") != "batch-response" or not isinstance(answers, list):
        return {}
    if len(answers) != len(wanted):
        return {}
    found: dict[CountKey, int] = {}
    for key, answer in zip(wanted, answers, strict=True):
        if not isinstance(answer, dict):
            continue
        status = str((answer.get("response") or {}).get("status") or "")
        result = answer.get("resource")
        if not status.startswith("2") or not isinstance(result, dict):
            continue
        total = result.get("total")
        if result.get("resourceType") == "Bundle" and type(total) is int and total >= 0:
            found[key] = total
    return found


def _with_patient(counts: Mapping[str, int]) -> dict[str, int]:
    """The Patient itself counts as one resource of its record, as on the store."""
    return dict(sorted({**counts, "Patient": 1}.items()))
