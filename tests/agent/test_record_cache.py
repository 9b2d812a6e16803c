"""The Assistant keeps a patient's record and concept index across questions, and a write
to the store makes it read the record again (agent.record_cache).

Real parts: the committed Synthea fixtures in the real embedded store, the real graph on
the rule path, the real facade; the reads are counted by the client's request observer.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent import build_graph, open_checkpointer
from agent.assistant import Assistant
from agent.record_cache import LoopSafeLock, RecordCache, estimated_bytes, server_version
from fhir_client.client import FhirClient
from fhir_client.embedded import (
    EMBEDDED_BASE_URL,
    EmbeddedStore,
    embedded_asgi_app,
    store_of,
)
from fhir_client.embedded.store import StoreError
from fhir_client.limits import MAX_JSON_DEPTH
from fhir_client.observe import RequestObservation
from tests.support.tools_datasets import Dataset
from tools import make_toolset
from tools.concepts import PatientRecord

GOUT = {
    "coding": [{"system": "http://snomed.info/sct", "code": "90560007", "display": "Gout"}],
    "text": "Gout",
}


CELIAC = {  # a condition no fixture patient has, and no other test here writes
    "coding": [
        {"system": "http://snomed.info/sct", "code": "396331005", "display": "Celiac disease"}
    ],
    "text": "Celiac disease",
}


def _everything_reads(seen: list[RequestObservation]) -> int:
    return sum("$everything" in o.path and "_getpages" not in o.path for o in seen)


def _patient_with_condition(dataset: Dataset) -> tuple[str, dict[str, Any]]:
    """A patient with at least one Condition and no gout, and one of those Conditions."""
    for record in dataset.patients:
        conditions = record.of("Condition")
        if conditions and not any("gout" in str(c.get("code")).lower() for c in conditions):
            stored = dataset.store.read("Condition", str(conditions[0]["id"]))
            assert stored is not None
            return record.id, stored
    pytest.fail("no fixture patient has a Condition")


async def test_the_index_is_kept_across_questions_and_rebuilt_after_a_write(
    dataset: Dataset, fhir: FhirClient
) -> None:
    patient_id, condition = _patient_with_condition(dataset)
    seen: list[RequestObservation] = []
    fhir.add_observer(seen.append)
    async with open_checkpointer(":memory:") as saver:
        assistant = Assistant(fhir, build_graph(checkpointer=saver), model="none")
        first = await assistant.ask(patient_id, "Does the patient have gout?")
        reads = _everything_reads(seen)
        assert reads >= 1, "a concept question reads the record"
        target = f"Condition/{condition['id']}"
        assert target not in {c.reference for c in first.citations}

        again = await assistant.ask(patient_id, "Is the gout under control?")
        assert _everything_reads(seen) == reads, "the second question reused the kept record"
        assert again.answer

        changed = copy.deepcopy(condition)
        changed["code"] = GOUT
        dataset.store.put_resources([changed])  # a write: the kept record is stale now

        after = await assistant.ask(patient_id, "Does the patient have gout?")
        assert _everything_reads(seen) > reads, "after the write the record was read again"
        assert target in {c.reference for c in after.citations}, after.answer


async def test_each_patient_has_its_own_entry(dataset: Dataset, fhir: FhirClient) -> None:
    async with open_checkpointer(":memory:") as saver:
        assistant = Assistant(fhir, build_graph(checkpointer=saver), model="none")
        assert assistant.records is not None
        first, second = dataset.patients[0].id, dataset.patients[1].id
        one = await assistant.toolset(first).record()
        other = await assistant.toolset(second).record()
        assert one.patient_id == first and other.patient_id == second
        assert await assistant.toolset(first).record() is one


def test_the_store_refuses_json_nested_deeper_than_the_bound() -> None:
    """What the store serves its own client unchecked was checked when it was written."""
    deep: Any = "leaf"
    for _ in range(MAX_JSON_DEPTH + 1):
        deep = [deep]
    store = EmbeddedStore(":memory:")
    try:
        with pytest.raises(StoreError, match="MAX_JSON_DEPTH"):
            store.put_resources([{"resourceType": "Basic", "id": "deep", "extension": deep}])
        assert store.read("Basic", "deep") is None
    finally:
        store.close()


def test_another_connections_write_changes_the_record_version(
    dataset: Dataset, tmp_path: Path
) -> None:
    """A write by another process (here: another store on the same file, its own
    connections and snapshots) changes this store's record version at once."""
    record = dataset.patients[0]
    path = tmp_path / "shared.sqlite"
    mine, theirs = EmbeddedStore(path), EmbeddedStore(path)
    try:
        mine.put_resources([record.patient])
        before = mine.record_version()
        assert mine.record_version() == before, "reading changes no version"
        changed = copy.deepcopy(record.patient)
        changed["gender"] = "unknown" if changed.get("gender") != "unknown" else "other"
        theirs.put_resources([changed])
        assert mine.record_version() != before
    finally:
        theirs.close()
        mine.close()


def test_a_kept_state_is_locked_across_event_loops_in_threads() -> None:
    """LangGraph's server may run runs on separate loops in separate threads: a kept
    record state's lock must hold across them (an asyncio.Lock belongs to one loop)."""
    lock = LoopSafeLock()
    held, release = threading.Event(), threading.Event()
    order: list[str] = []

    async def holder() -> None:
        async with lock:
            order.append("first in")
            held.set()
            await asyncio.to_thread(release.wait, 30)
            order.append("first out")

    async def waiter() -> None:
        await asyncio.to_thread(held.wait, 30)
        async with lock:
            order.append("second in")

    first = threading.Thread(target=asyncio.run, args=(holder(),))
    second = threading.Thread(target=asyncio.run, args=(waiter(),))
    first.start()
    second.start()
    assert held.wait(30)
    second.join(0.2)
    assert second.is_alive() and order == ["first in"], "the second loop waits for the lock"
    release.set()
    first.join(30)
    second.join(30)
    assert order == ["first in", "first out", "second in"]


# --- The bounds: bytes, count and age (RECORD_CACHE_BYTES, _ENTRIES, _SECONDS) ----------


def _record_reads(seen: list[RequestObservation]) -> int:
    """Whole-record reads: first pages of ``$everything`` (later pages carry an offset)."""
    return sum("$everything" in o.path and "_offset" not in o.path for o in seen)


def _cache(dataset: Dataset, **bounds: Any) -> RecordCache:
    return RecordCache(dataset.store.record_version, **bounds)


async def _read(cache: RecordCache, fhir: FhirClient, patient_id: str) -> PatientRecord:
    return await cache.attach(make_toolset(fhir, patient_id)).record()


def test_the_estimate_is_near_the_heap_a_kept_record_holds(
    dataset: Dataset, fhir: FhirClient
) -> None:
    """The byte bound is only as good as the estimate: tracemalloc's count of what one
    fixture record, its concept index and text index hold is within 2x of it."""

    async def build() -> tuple[PatientRecord, int]:
        cache = _cache(dataset)
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            toolset = cache.attach(make_toolset(fhir, dataset.patients[0].id))
            record = await toolset.record()
            await toolset.record_index()
            await toolset.record_search()
            del toolset
            gc.collect()
            return record, tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()

    record, heap = asyncio.run(build())
    estimate = estimated_bytes(record)
    assert estimate / 2 <= heap <= estimate * 2, (estimate, heap)


async def test_least_recently_used_records_are_evicted_by_bytes(
    dataset: Dataset, fhir: FhirClient
) -> None:
    ids = [p.id for p in dataset.patients[:3]]
    sizes = [estimated_bytes(await _read(_cache(dataset), fhir, i)) for i in ids]
    cache = _cache(dataset, entries=10, max_bytes=sizes[0] + sizes[1] + sizes[2] - 1)
    first = await _read(cache, fhir, ids[0])
    await _read(cache, fhir, ids[1])
    assert await _read(cache, fhir, ids[0]) is first, "under the bound: kept"
    assert cache.kept_bytes == sizes[0] + sizes[1]
    await _read(cache, fhir, ids[2])  # the three pass the bound: the LRU one goes
    assert len(cache) == 2 and cache.kept_bytes == sizes[0] + sizes[2]
    assert await _read(cache, fhir, ids[0]) is first, "recently used, so kept"
    assert len(cache) == 2


async def test_a_record_over_the_byte_bound_answers_its_question_but_is_not_kept(
    dataset: Dataset, fhir: FhirClient
) -> None:
    patient_id, _ = _patient_with_condition(dataset)
    seen: list[RequestObservation] = []
    fhir.add_observer(seen.append)
    async with open_checkpointer(":memory:") as saver:
        assistant = Assistant(fhir, build_graph(checkpointer=saver), model="none")
        small = estimated_bytes(await _read(_cache(dataset), fhir, patient_id)) - 1
        assistant.records = _cache(dataset, max_bytes=small)
        reads = _record_reads(seen)
        first = await assistant.ask(patient_id, "Does the patient have diabetes?")
        assert first.answer and _record_reads(seen) == reads + 1, "read once for the question"
        assert len(assistant.records) == 0 and assistant.records.kept_bytes == 0
        again = await assistant.ask(patient_id, "Does the patient have diabetes?")
        assert again.answer == first.answer
        assert _record_reads(seen) == reads + 2, "not kept, so read again"


async def test_the_count_bound_still_evicts_the_least_recently_used(
    dataset: Dataset, fhir: FhirClient
) -> None:
    ids = [p.id for p in dataset.patients[:3]]
    cache = _cache(dataset, entries=2)
    first = await _read(cache, fhir, ids[0])
    second = await _read(cache, fhir, ids[1])
    await _read(cache, fhir, ids[2])
    assert len(cache) == 2
    assert await _read(cache, fhir, ids[1]) is second
    assert await _read(cache, fhir, ids[0]) is not first, "the least recent was evicted"


async def test_the_age_bound_still_expires_an_entry(dataset: Dataset, fhir: FhirClient) -> None:
    patient_id = dataset.patients[0].id
    cache = _cache(dataset, seconds=1.0)  # counted from the first ask, before the read
    first = await _read(cache, fhir, patient_id)
    assert await _read(cache, fhir, patient_id) is first
    await asyncio.sleep(1.1)
    assert await _read(cache, fhir, patient_id) is not first, "past its age: read again"


# --- A remote server: keyed by its newest history entry (server_version) ---------------


def _over_http(store: EmbeddedStore, base: str = EMBEDDED_BASE_URL) -> FhirClient:
    """A client of the embedded FHIR facade as a remote server: HTTP only, no store
    behind it for the cache to ask (store_of is None), so the server's history keys it."""
    return FhirClient(base, transport=httpx.ASGITransport(app=embedded_asgi_app(store)))


async def test_a_remote_record_is_kept_until_a_write_or_delete_shows_in_history(
    dataset: Dataset,
) -> None:
    """The same as the HAPI test (tests/e2e/hapi/test_record_cache_hapi.py), on a FHIR
    server made of the embedded facade reached over HTTP, so it runs without Java."""
    patient_id, condition = _patient_with_condition(dataset)
    async with _over_http(dataset.store) as remote, open_checkpointer(":memory:") as saver:
        assert store_of(remote) is None
        seen: list[RequestObservation] = []
        remote.add_observer(seen.append)
        assistant = Assistant(remote, build_graph(checkpointer=saver), model="none")
        await assistant.ask(patient_id, "Does the patient have celiac disease?")
        reads = _record_reads(seen)
        assert reads == 1
        await assistant.ask(patient_id, "Is the celiac disease treated?")
        assert _record_reads(seen) == 1, "the second question reused the kept record"

        celiac = {**copy.deepcopy(condition), "id": "record-cache-celiac", "code": CELIAC}
        dataset.store.put_resources([celiac])
        after = await assistant.ask(patient_id, "Does the patient have celiac disease?")
        assert _record_reads(seen) == 2, "after the write: read again"
        assert "Condition/record-cache-celiac" in {c.reference for c in after.citations}

        assert dataset.store.delete("Condition", "record-cache-celiac")
        gone = await assistant.ask(patient_id, "Does the patient have celiac disease?")
        assert _record_reads(seen) == 3, "a deletion is in the history too: read again"
        assert "Condition/record-cache-celiac" not in {c.reference for c in gone.citations}


async def test_a_server_without_system_history_shares_no_record(dataset: Dataset) -> None:
    """A base under which ``_history`` is not found (here ``.../fhir/Patient/none``: the
    instance history of no patient, a 404) gives no version: nothing is shared."""
    async with _over_http(dataset.store, f"{EMBEDDED_BASE_URL}/Patient/none") as remote:
        first, second = await server_version(remote), await server_version(remote)
        assert first != second
        cache = RecordCache(remote_version=lambda: server_version(remote))
        one = cache.state(dataset.patients[0].id, await server_version(remote))
        assert cache.state(dataset.patients[0].id, await server_version(remote)) is not one
