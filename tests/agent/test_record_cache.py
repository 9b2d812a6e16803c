"""The Assistant keeps a patient's record and concept index across questions, and a write
to the store makes it read the record again (agent.record_cache).

Real parts: the committed Synthea fixtures in the real embedded store, the real graph on
the rule path, the real facade; the reads are counted by the client's request observer.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent import build_graph, open_checkpointer
from agent.assistant import Assistant
from agent.record_cache import LoopSafeLock
from fhir_client.client import FhirClient
from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.embedded.store import StoreError
from fhir_client.limits import MAX_JSON_DEPTH
from fhir_client.observe import RequestObservation
from tests.support.tools_datasets import Dataset

GOUT = {
    "coding": [{"system": "http://snomed.info/sct", "code": "90560007", "display": "Gout"}],
    "text": "Gout",
}


def _everything_reads(seen: list[RequestObservation]) -> int:
    return sum("$everything" in o.path and "_getpages" not in o.path for o in seen)


@pytest.fixture
async def client(dataset: Dataset) -> AsyncIterator[FhirClient]:
    async with embedded_client(dataset.store) as fhir:
        yield fhir


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
    dataset: Dataset, client: FhirClient
) -> None:
    patient_id, condition = _patient_with_condition(dataset)
    seen: list[RequestObservation] = []
    client.add_observer(seen.append)
    async with open_checkpointer(":memory:") as saver:
        assistant = Assistant(client, build_graph(checkpointer=saver), model="none")
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


async def test_each_patient_has_its_own_entry(dataset: Dataset, client: FhirClient) -> None:
    async with open_checkpointer(":memory:") as saver:
        assistant = Assistant(client, build_graph(checkpointer=saver), model="none")
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
