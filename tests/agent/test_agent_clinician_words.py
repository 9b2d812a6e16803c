"""Clinician wording that used to give a false or wrong answer, on the fixture patients,
with no model.  Each expectation is computed here from the bundle JSON.

Before this file: "what meds was he on in 2020" said no orders matched (the patient had
current orders written years earlier); "any drug allergies" listed the medication
orders as allergies; "allergic to penicillin?" said "No" to a penicillin allergy (the
concept was "allergic penicillin"); "allergic to wheat?" was spelled into "what" and
asked for a survey question; "pulse ox" read as the heart rate; "last wellness visit"
found no encounter (Synthea types them "General examination" / "check up"); a missing
vital's "No result named ..." was removed by the verifier.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from agent.reading import read_question
from fhir_client import FhirClient
from tests.support import agent_truth as truth
from tests.support.agent_ask import ask_agent
from tests.support.tools_datasets import Dataset

Resource = dict[str, Any]
DATASETS = ("fixtures",)
pytestmark = pytest.mark.slow  # every fixture patient, a few questions each: ~40 s


@pytest.mark.parametrize(
    ("question", "category"),
    [
        ("any drug allergies", "medication"),
        ("med allergies?", "medication"),
        ("is she allergic to any meds", "medication"),
        ("food allergies?", "food"),
        ("any allergies", None),
        ("allergic to penicillin?", None),
    ],
)
def test_an_allergy_qualifier_is_a_category_not_a_family(
    question: str, category: str | None
) -> None:
    reading = read_question(question)
    assert reading.allergy_category == category
    assert "medication" not in reading.families, reading


def _codes(resource: Resource, key: str) -> set[str]:
    return truth.codes(resource.get(key))


async def test_meds_on_in_a_year_include_current_orders_written_before_it(
    fhir: FhirClient, dataset: Dataset
) -> None:
    checked = 0
    for record in dataset.patients:
        orders = record.of("MedicationRequest")
        current_before = {
            truth.ref(o) for o in orders if o["status"] == "active" and truth.day(o) < "2020-01-01"
        }
        written_in = {truth.ref(o) for o in orders if truth.day(o).startswith("2020")}
        if not current_before:
            continue
        checked += 1
        output = await ask_agent(fhir, record, "what meds was he on in 2020?")
        cited = truth.cited(output.answer)
        assert current_before <= cited, output.answer
        assert cited <= current_before | written_in, output.answer
        assert not output.answer.startswith("No "), output.answer
        count = await ask_agent(fhir, record, "how many prescriptions were written in 2020?")
        said = f" {len(written_in)} medication order"
        assert said in count.answer and not count.notes, (count.answer, count.notes)
    assert checked >= 2


async def test_drug_allergies_are_medication_allergies_only(
    fhir: FhirClient, dataset: Dataset
) -> None:
    for record in dataset.patients[:6]:
        allergies = record.of("AllergyIntolerance")
        drug = {truth.ref(a) for a in allergies if "medication" in (a.get("category") or [])}
        output = await ask_agent(fhir, record, "any drug allergies?")
        cited = truth.cited(output.answer)
        assert cited == drug, output.answer
        if not drug:
            assert "No medication allergies are recorded" in output.answer, output.answer


async def test_allergic_to_a_substance_the_record_holds_is_yes(
    fhir: FhirClient, dataset: Dataset
) -> None:
    checked = 0
    for record in dataset.patients:
        for allergy in record.of("AllergyIntolerance"):
            display = (allergy["code"].get("coding") or [{}])[0].get("display", "")
            word = re.sub(r"\s*\(.*", "", display.lower()).strip()  # "penicillin v"
            if not word or "substance" in word:
                continue
            checked += 1
            output = await ask_agent(fhir, record, f"is she allergic to {word}?")
            assert not output.answer.lower().startswith("no"), (word, output.answer)
            assert truth.ref(allergy) in truth.cited(output.answer), (word, output.answer)
    assert checked >= 2


async def test_a_missing_allergen_is_not_spelled_into_a_stop_word(
    fhir: FhirClient, dataset: Dataset
) -> None:
    record = next(r for r in dataset.patients if not r.of("AllergyIntolerance"))
    output = await ask_agent(fhir, record, "allergic to wheat?")
    assert all("what" not in str(s.arguments.get("name", "")).lower() for s in output.steps), (
        output.steps
    )
    assert "wheat" in output.answer.lower(), output.answer


async def test_pulse_ox_is_the_oxygen_saturation(fhir: FhirClient, dataset: Dataset) -> None:
    for record in dataset.patients:
        readings = [
            o for o in record.of("Observation") if _codes(o, "code") & {"2708-6", "59408-5"}
        ]
        output = await ask_agent(fhir, record, "pulse ox?")
        if readings:
            _, newest = truth.newest(readings)
            assert truth.cited(output.answer) & newest, output.answer
        else:  # the search for it is named, and the verifier keeps that sentence
            assert output.answer.startswith("No result named 'oxygen saturation'"), output
            assert not output.notes or "Removed" not in " ".join(output.notes), output.notes


async def test_a_wellness_visit_is_a_check_up_or_general_examination(
    fhir: FhirClient, dataset: Dataset
) -> None:
    for record in dataset.patients[:6]:
        visits = [  # a check-up or general examination; a dental check-up is no wellness
            e
            for e in truth.wellness_visits(record)
            if not re.search(r"(?i)well child", json.dumps(e.get("type")))
        ]
        output = await ask_agent(fhir, record, "when was her last wellness visit?")
        if not visits:
            continue
        newest_day, newest = truth.newest(visits)
        assert newest_day in output.answer and truth.cited(output.answer) & newest, output.answer


def test_er_and_ed_are_the_emergency_setting_only_before_a_visit_word() -> None:
    assert read_question("how many ER visits?").concepts == []
    assert "encounter" in read_question("any ED visits this year").families
    assert [c.phrase for c in read_question("does he have ED?").concepts] == ["ed"]


async def test_er_visits_are_counted_as_emergency_encounters(
    fhir: FhirClient, dataset: Dataset
) -> None:
    for record in dataset.patients[:6]:
        emergency = [e for e in record.of("Encounter") if e["class"]["code"] == "EMER"]
        output = await ask_agent(fhir, record, "how many ER visits?")
        first = output.answer.splitlines()[0]
        assert first.startswith(f"The patient had {len(emergency)} emergency encounter"), first
        assert truth.cited(output.answer) == {truth.ref(e) for e in emergency}, output.answer
