"""The replay's ground truth on hand-checked fixture patients.

Each expected answer is also computed here by a different route (a direct scan of the
bundle JSON, written out in the test) and, for the key facts, pinned to the value read
by hand from the file, so a bug in the generator cannot agree with itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.replay import PatientRecord, generate_questions
from agent.replay.model import Question
from agent.replay.record import fetch_record
from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.loading import load_paths

FIXTURES = Path(__file__).resolve().parents[3] / "synthea_fixtures" / "fhir"
ALETHEA = FIXTURES / "Alethea978_Lubowitz58_3953a64a-b01f-0722-58ad-0a74c45b52f0.json"
FORREST = FIXTURES / "Forrest301_Rippin620_f5956ed1-6e79-e48d-13ee-870552402e6b.json"


def bundle_resources(path: Path) -> list[dict[str, Any]]:
    """The bundle's resources with urn:uuid references turned into Type/id (as stored)."""
    entries = json.loads(path.read_text())["entry"]
    text = json.dumps([e["resource"] for e in entries])
    for entry in entries:
        resource = entry["resource"]
        text = text.replace(
            f'"{entry["fullUrl"]}"', f'"{resource["resourceType"]}/{resource["id"]}"'
        )
    return list(json.loads(text))


def by_template(questions: list[Question], template: str, **params: str) -> Question:
    found = [q for q in questions if q.template == template and q.params == params]
    assert len(found) == 1, [q.text for q in questions if q.template == template]
    return found[0]


def test_latest_hba1c_matches_the_newest_observation_in_the_file() -> None:
    resources = bundle_resources(FORREST)
    questions = generate_questions(PatientRecord.from_resources(resources))
    question = by_template(questions, "latest_observation", name="HbA1c")
    a1c = [
        r
        for r in resources
        if r["resourceType"] == "Observation"
        and any(c["code"] == "4548-4" for c in r["code"]["coding"])
    ]
    newest = max(a1c, key=lambda r: r["effectiveDateTime"])
    assert question.text == "What was the most recent HbA1c and when?"
    assert question.expected.kind == "value_date"
    assert float(str(question.expected.value)) == newest["valueQuantity"]["value"] == 2.91
    assert question.expected.date == newest["effectiveDateTime"][:10] == "2024-03-30"
    assert question.expected_references == (f"Observation/{newest['id']}",)


def test_hba1c_trend_is_the_last_three_results() -> None:
    questions = generate_questions(PatientRecord.from_resources(bundle_resources(FORREST)))
    trend = by_template(questions, "observation_trend", name="HbA1c")
    assert trend.expected.points[-2:] == (("2024-03-02", 3.13), ("2024-03-30", 2.91))
    assert len(trend.expected_references) == 3


def test_demographics_medications_vaccines_and_counts_for_one_patient() -> None:
    resources = bundle_resources(ALETHEA)
    questions = generate_questions(PatientRecord.from_resources(resources))
    texts = {q.template: q for q in questions}
    assert texts["birth_date"].expected.date == "1982-11-17"
    assert texts["gender"].expected.value == "female"
    # Hand-checked: three active orders, and the other 37 stopped.
    active = {
        f"MedicationRequest/{r['id']}"
        for r in resources
        if r["resourceType"] == "MedicationRequest" and r["status"] == "active"
    }
    meds = texts["active_medications"]
    assert set(meds.expected_references) == active and len(active) == 3
    assert {i.name for i in meds.expected.items} == {
        "Astemizole 10 MG Oral Tablet",
        "Hydrochlorothiazide 25 MG Oral Tablet",
        "lisinopril 10 MG Oral Tablet",
    }
    assert set(meds.expected.allowed_references or ()) == active
    assert texts["last_flu_vaccine"].expected.date == "2024-09-11"
    count = texts["encounters_in_year"]
    in_2023 = [
        r
        for r in resources
        if r["resourceType"] == "Encounter" and r["period"]["start"].startswith("2023")
    ]
    assert count.params == {"year": "2023"}
    assert count.expected.value == len(in_2023) == 7
    vaccines = {i.name for i in texts["immunization_history"].expected.items}
    assert vaccines == {"influenza", "COVID-19", "hepatitis A", "tetanus"}


def test_no_question_without_data_and_none_when_ambiguous() -> None:
    patient = {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1970-01-02"}

    def a1c(oid: str, when: str, value: float) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "id": oid,
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
            "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": "%"},
        }

    bare = generate_questions(PatientRecord.from_resources([patient]))
    # Only demographics and the explicit "no allergies recorded" question.
    assert {q.category for q in bare} == {"demographics", "allergies"}
    assert by_template(bare, "active_allergies").expected.items == ()

    same_day = [
        patient,
        a1c("o1", "2024-01-05T08:00:00Z", 6.1),
        a1c("o2", "2024-01-05T09:00:00Z", 7.4),
    ]
    questions = generate_questions(PatientRecord.from_resources(same_day))
    assert not [q for q in questions if q.template == "latest_observation"]


def test_ids_are_stable_and_differ_between_patients() -> None:
    first = generate_questions(PatientRecord.from_resources(bundle_resources(ALETHEA)))
    again = generate_questions(PatientRecord.from_resources(bundle_resources(ALETHEA)))
    other = generate_questions(PatientRecord.from_resources(bundle_resources(FORREST)))
    assert [q.id for q in first] == [q.id for q in again]
    assert len({q.id for q in first}) == len(first)
    assert not {q.id for q in first} & {q.id for q in other}
    assert Question.from_json(first[5].to_json()) == first[5]


async def test_the_fhir_route_gives_the_same_questions_as_the_bundle(tmp_path: Path) -> None:
    store = EmbeddedStore(":memory:")
    try:
        async with embedded_client(store, timeout=600) as client:
            files = [
                *FIXTURES.glob("hospitalInformation*.json"),
                *FIXTURES.glob("practitionerInformation*.json"),
                ALETHEA,
            ]
            report = await load_paths(client, files, validate=False)
            assert not report.failures
            record = await fetch_record(client, "3953a64a-b01f-0722-58ad-0a74c45b52f0")
    finally:
        store.close()
    from_server = generate_questions(record)
    from_file = generate_questions(PatientRecord.from_resources(bundle_resources(ALETHEA)))
    assert [q.to_json() for q in from_server] == [q.to_json() for q in from_file]
    assert len(from_server) >= 20
