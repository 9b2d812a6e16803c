"""The graph with the typed reading, on one real Synthea patient in the embedded store.

Every expected value is computed here from the patient's bundle JSON, never through the
tools; the agent runs without a model (the rule path every user without a GPU gets).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.replay.bundles import records_from_bundles
from agent.replay.record import PatientRecord, codes_of, day, moment, reference
from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.loading import load_paths
from tests.support.agent_ask import ask_agent
from tests.support.shared_data import synthea_external

FIXTURES = Path(__file__).resolve().parents[2] / "synthea_fixtures" / "fhir"
PATIENT_FILE = "Dee580_Nitzsche158_6f4bf0aa-d2b4-4e48-0578-00f9c96728aa.json"


@pytest.fixture(scope="module")
def store() -> Iterator[EmbeddedStore]:
    import asyncio

    store = EmbeddedStore(":memory:")
    paths = [*FIXTURES.glob("hospitalInformation*.json"), *FIXTURES.glob("practitioner*.json")]

    async def load() -> None:
        async with embedded_client(store, timeout=600.0) as client:
            report = await load_paths(client, [*paths, FIXTURES / PATIENT_FILE], validate=False)
            assert not report.failures

    asyncio.run(load())
    yield store
    store.close()


@pytest.fixture(scope="module")
def record() -> PatientRecord:
    records = records_from_bundles(FIXTURES)
    return next(r for r in records if r.id in PATIENT_FILE)


@pytest.fixture
async def client(store: EmbeddedStore) -> AsyncIterator[Any]:
    async with embedded_client(store) as fhir:
        yield fhir


def _cited(output: Any) -> set[str]:
    return {c.reference for c in output.citations if c.verified}


async def test_another_person_named_is_refused_without_retrieving(
    client: Any, record: PatientRecord
) -> None:
    output = await ask_agent(client, record, "What is Milton Ortiz's blood pressure?")
    assert "Milton Ortiz" in output.answer and "Nitzsche" in output.answer
    assert " not " in output.answer
    assert not output.citations and not [s for s in output.steps if s.node == "act"]
    own = await ask_agent(client, record, "When was Dee Nitzsche born?")
    assert record.patient["birthDate"] in own.answer
    assert _cited(own) == {reference(record.patient)}


async def test_another_language_gets_an_honest_message(client: Any, record: PatientRecord) -> None:
    output = await ask_agent(client, record, "Wie hoch war der letzte Blutdruck des Patienten?")
    assert "English" in output.answer and not output.citations
    assert not [s for s in output.steps if s.node == "act"]


def _active(record: PatientRecord, *ingredients: str) -> set[str]:
    out = set()
    for order in record.of("MedicationRequest"):
        name = json.dumps(order.get("medicationCodeableConcept") or {}).lower()
        if order.get("status") == "active" and any(i in name for i in ingredients):
            out.add(reference(order))
    return out


async def test_drug_classes_yes_and_no(client: Any, record: PatientRecord) -> None:
    thinners = _active(record, "warfarin", "clopidogrel", "heparin", "apixaban")
    assert thinners  # this patient is on them
    output = await ask_agent(client, record, "pt on any blood thinners?")
    assert output.answer.startswith("Yes") and thinners <= _cited(output)
    assert not _active(record, "insulin")
    none = await ask_agent(client, record, "is he on any insulin?")
    assert none.answer.startswith("No") and "medication orders" in none.answer
    assert not none.citations


async def test_extremes_thresholds_and_the_last_visit(client: Any, record: PatientRecord) -> None:
    readings = []
    for observation in record.of("Observation"):
        if "85354-9" in codes_of(observation.get("code")):
            systolic = next(
                c["valueQuantity"]["value"]
                for c in observation["component"]
                if "8480-6" in codes_of(c.get("code"))
            )
            readings.append((systolic, observation))
    top, observation = max(readings, key=lambda pair: pair[0])
    highest = await ask_agent(client, record, "What was his highest BP reading?")
    assert f"{top:g}" in highest.answer and day(observation) in highest.answer
    assert reference(observation) in _cited(highest)

    a1c = [
        o["valueQuantity"]["value"]
        for o in record.of("Observation")
        if "4548-4" in codes_of(o.get("code"))
    ]
    above = sum(1 for value in a1c if value > 6)
    counted = await ask_agent(client, record, "How many times was his HbA1c above 6?")
    assert counted.answer.startswith(f"{above} of the {len(a1c)} ")

    last = max(record.of("Encounter"), key=moment)
    visit = await ask_agent(client, record, "What happened at the last visit?")
    assert day(last) in visit.answer and reference(last) in _cited(visit)
    same_day = {reference(p) for p in record.of("Procedure") if day(p) == day(last)}
    assert same_day <= _cited(visit)


async def test_two_results_at_the_same_time_that_disagree_are_both_stated() -> None:
    spezi = synthea_external("spezi-mock-patients")
    path = next(spezi.glob("Milton509_Ortiz186_*.json"))
    (record,) = [r for r in records_from_bundles(spezi) if r.id in path.name]
    by_instant: dict[str, list[dict[str, Any]]] = {}
    for observation in record.of("Observation"):
        if "8310-5" in codes_of(observation.get("code")):
            by_instant.setdefault(observation["effectiveDateTime"], []).append(observation)
    instant, clash = next((k, v) for k, v in by_instant.items() if len(v) > 1)
    assert len({o["valueQuantity"]["value"] for o in clash}) > 1
    store = EmbeddedStore(":memory:")
    try:
        async with embedded_client(store, timeout=600.0) as client:
            report = await load_paths(client, [path], validate=False)
            assert not report.failures
            output = await ask_agent(client, record, f"body temperature on {instant[:10]}?")
    finally:
        store.close()
    assert "disagree" in output.answer
    assert {reference(o) for o in clash} <= _cited(output)
