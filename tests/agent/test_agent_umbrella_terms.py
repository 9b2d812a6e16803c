"""Umbrella words for a body system or a kind of study: "cardiac", "mental health", "imaging".

A clinician asks "any cardiac history?", "mental health issues?", "any lung problems?",
"any imaging done?": the record never uses those words (no Synthea display says
"cardiac"), so a search for the word itself finds nothing and a "No" from it would be
false for a patient with a myocardial infarction.  The vocabulary names the disorders
each umbrella covers, and "imaging"/"scans" name the ImagingStudy family; the answer is
"Yes" exactly when a Condition carries one of those words (an ImagingStudy exists),
computed here from the bundle JSON.
"""

from __future__ import annotations

import re

import pytest

from fhir_client.client import FhirClient
from tests.support import agent_truth as truth
from tests.support.agent_ask import ask_agent
from tests.support.tools_datasets import Dataset, PatientRecord

DATASETS = ("fixtures",)

_HEART = r"heart disease|heart failure|cardiac|coronary|myocardial|atrial fibrillation"
_MIND = (
    r"depression|depressive|anxiety|mental|psychiatric|psychosis|bipolar|schizophrenia"
    r"|post-traumatic stress|panic|attention deficit"
)
_LUNG = r"asthma|chronic obstructive|bronchitis|emphysema|pneumonia|pulmonary|lung|respiratory"

# (question, what the words cover in Condition displays)
CONDITION_UMBRELLAS = [
    ("any cardiac history?", _HEART),
    ("any heart issues?", _HEART),
    ("cardiac problems?", _HEART),
    ("any mental health issues?", _MIND),
    ("psychiatric history?", _MIND),
    ("any mental health problems", _MIND),
    ("any lung problems?", _LUNG),
    ("any breathing trouble?", _LUNG),
    ("respiratory issues?", _LUNG),
]
IMAGING_QUESTIONS = ["any imaging done?", "has she had any scans?", "any imaging?"]


def _displays(record: PatientRecord, *resource_types: str) -> list[tuple[str, str]]:
    out = []
    for resource_type in resource_types:
        for resource in record.of(resource_type):
            concept = resource.get("code") or resource.get("procedureCode") or resource.get("type")
            concept = concept or {}
            concepts = concept if isinstance(concept, list) else [concept]
            concepts += resource.get("reasonCode") or []
            for each in concepts:
                for coding in each.get("coding") or []:
                    out.append((str(coding.get("display", "")).lower(), truth.ref(resource)))
    return out


async def answer_of(fhir: FhirClient, record: PatientRecord, question: str) -> str:
    return str((await ask_agent(fhir, record, question)).answer)


@pytest.mark.parametrize(("question", "covers"), CONDITION_UMBRELLAS)
async def test_an_umbrella_word_is_answered_from_the_conditions_it_covers(
    fhir: FhirClient, dataset: Dataset, question: str, covers: str
) -> None:
    seen = {True: 0, False: 0}
    for record in dataset.patients:
        matching = {r for d, r in _displays(record, "Condition") if re.search(covers, d)}
        answer = await answer_of(fhir, record, question)
        opening = answer.split(":", 1)[0]
        if matching:
            assert opening == "Yes", (record.id, answer)
            assert truth.cited(answer) <= matching, answer  # only the disorders it covers
        else:
            assert opening == "No", (record.id, answer)
            assert "among" in answer  # says what it searched
        seen[bool(matching)] += 1
    assert seen[True] and seen[False], seen  # the fixtures hold both kinds of patient


@pytest.mark.parametrize("question", IMAGING_QUESTIONS)
async def test_imaging_is_answered_from_the_imaging_studies(
    fhir: FhirClient, dataset: Dataset, question: str
) -> None:
    seen = {True: 0, False: 0}
    for record in dataset.patients:
        studies = {truth.ref(r) for r in record.of("ImagingStudy")}
        answer = await answer_of(fhir, record, question)
        if studies:
            assert answer.startswith("Yes"), (record.id, answer)
            assert truth.cited(answer) and truth.cited(answer) <= studies, answer
        else:
            assert answer.startswith("No") and "imaging studies" in answer, (record.id, answer)
        seen[bool(studies)] += 1
    assert seen[True] and seen[False], seen
