"""A yes/no answer is not "Yes" because a negative finding or a vaccine shares the words:
on the fixture patients, with no model, expectations computed here from the bundle JSON.

Before: "any history of smoking?" was answered "Yes: Smoking status Never smoked tobacco"
for a patient who never smoked, and "has she had covid?" opened its "Yes" with a
COVID-19 vaccine for a patient who never had the disease.  Now a result whose value is a
negative finding is no "yes" (when it is all there is, the newest one is the cited "no"),
and an immunization is evidence only when a vaccine is what is asked.
"""

from __future__ import annotations

from typing import Any

import pytest

from fhir_client import FhirClient
from tests.support import agent_truth as truth
from tests.support.agent_ask import ask_agent
from tests.support.tools_datasets import Dataset, PatientRecord

Resource = dict[str, Any]
DATASETS = ("fixtures",)
SMOKING_STATUS = "72166-2"  # LOINC: Tobacco smoking status
SMOKING = ["any history of smoking", "has she ever smoked?", "smoking history?"]
COVID = ["has she had covid?", "any history of COVID-19?"]
COVID_VACCINE = ["has she had the covid vaccine?", "any covid shots?"]


def _value(resource: Resource) -> str:
    concept = resource.get("valueCodeableConcept") or {}
    texts = [concept.get("text") or ""] + [c.get("display", "") for c in concept.get("coding", [])]
    return " ".join(texts).lower()


def _smoking(record: PatientRecord) -> list[Resource]:
    return [
        o
        for o in record.of("Observation")
        if any(c.get("code") == SMOKING_STATUS for c in o["code"].get("coding", []))
    ]


def _mentions_covid(resource: Resource, key: str) -> bool:
    return "covid" in str(resource.get(key, "")).lower()


async def _ask(fhir: FhirClient, record: PatientRecord, question: str) -> str:
    return str((await ask_agent(fhir, record, question)).answer)


@pytest.mark.slow
async def test_never_smoked_is_a_cited_no_and_ex_smoker_a_yes(
    fhir: FhirClient, dataset: Dataset
) -> None:
    never = [
        r for r in dataset.patients if (s := _smoking(r)) and all("never" in _value(o) for o in s)
    ]
    former = [r for r in dataset.patients if any("ex-smoker" in _value(o) for o in _smoking(r))]
    assert never and former  # the fixtures hold both kinds
    for index, question in enumerate(SMOKING):
        record = never[index % len(never)]
        newest = max(_smoking(record), key=truth.day)
        answer = await _ask(fhir, record, question)
        # A cited "No", or the status itself as a result: never a "Yes".
        assert not answer.startswith("Yes") and "Never smoked" in answer, (question, answer)
        assert truth.ref(newest) in truth.cited(answer) and truth.day(newest) in answer, answer
        record = former[index % len(former)]
        answer = await _ask(fhir, record, question)
        assert not answer.startswith("No") and "Ex-smoker" in answer, (question, answer)


@pytest.mark.slow
async def test_a_vaccine_is_no_evidence_of_the_disease(fhir: FhirClient, dataset: Dataset) -> None:
    vaccinated = [
        r
        for r in dataset.patients
        if any(_mentions_covid(i, "vaccineCode") for i in r.of("Immunization"))
    ]
    healthy = [
        r for r in vaccinated if not any(_mentions_covid(c, "code") for c in r.of("Condition"))
    ]
    ill = [r for r in vaccinated if r not in healthy]
    assert healthy and ill
    for index, question in enumerate(COVID):
        answer = await _ask(fhir, healthy[index % len(healthy)], question)
        assert not answer.startswith("Yes"), (question, answer)
        assert not any(r.startswith("Immunization/") for r in truth.cited(answer)), answer
        answer = await _ask(fhir, ill[index % len(ill)], question)
        covid = {
            truth.ref(c)
            for c in ill[index % len(ill)].of("Condition")
            if _mentions_covid(c, "code")
        }
        assert answer.startswith("Yes:") and covid & truth.cited(answer), (question, answer)
        assert not any(r.startswith("Immunization/") for r in truth.cited(answer)), answer
    for index, question in enumerate(COVID_VACCINE):
        record = healthy[index % len(healthy)]
        shots = {
            truth.ref(i) for i in record.of("Immunization") if _mentions_covid(i, "vaccineCode")
        }
        answer = await _ask(fhir, record, question)
        assert answer.startswith("Yes:") and shots & truth.cited(answer), (question, answer)
