"""Chart words a clinician uses for an order's dose and for the problem list.

'What dose of lisinopril?': the dose is written in the order's own name ("lisinopril 10
MG Oral Tablet"), so the answer is the drug's orders; "dose", "dosage" and "strength"
name what is asked about the drug, not part of the drug's name. Before, the phrase
searched was "dose lisinopril" and the answer was a false "No dose lisinopril among 23
medication orders". Expectations come from the bundle JSON; the agent runs without a
model.

'Past medical history?', 'PMH?' ask for the problem list with its resolved entries
(before: a "Yes:" over survey answers); 'which conditions have resolved?' lists the
resolved ones only (before: every condition).
"""

from __future__ import annotations

import pytest

from fhir_client.client import FhirClient
from tests.support import agent_truth as truth
from tests.support.agent_ask import ask_agent
from tests.support.tools_datasets import Dataset, PatientRecord

DATASETS = ("fixtures",)

WORDINGS = [
    "what dose of {drug}?",
    "what's her {drug} dosage?",
    "what strength of {drug} is she on?",
    "{drug} dose?",
    "how much {drug} does she take?",
]


HISTORY_WORDINGS = ["past medical history?", "PMH?", "pmh", "what's her medical history?"]
RESOLVED_WORDINGS = [
    "what conditions have resolved?",
    "which problems are resolved?",
    "resolved conditions",
]


def _status(condition: dict[str, object]) -> str:
    codings = (condition.get("clinicalStatus") or {}).get("coding") or [{}]  # type: ignore[attr-defined]
    return str(codings[0].get("code"))


async def answer_of(fhir: FhirClient, record: PatientRecord, question: str) -> str:
    return str((await ask_agent(fhir, record, question)).answer)


@pytest.mark.parametrize("wording", HISTORY_WORDINGS)
async def test_past_medical_history_is_the_whole_problem_list(
    fhir: FhirClient, dataset: Dataset, wording: str
) -> None:
    for record in dataset.patients[:4]:
        conditions = {truth.ref(c): _status(c) for c in record.of("Condition")}
        answer = await answer_of(fhir, record, wording)
        cited = truth.cited(answer)
        assert cited and cited <= set(conditions), (wording, answer)
        if "resolved" in conditions.values():
            assert any(conditions[r] == "resolved" for r in cited), (wording, answer)


@pytest.mark.parametrize("wording", RESOLVED_WORDINGS)
async def test_resolved_conditions_are_listed_alone(
    fhir: FhirClient, dataset: Dataset, wording: str
) -> None:
    for record in dataset.patients[:4]:
        resolved = {truth.ref(c) for c in record.of("Condition") if _status(c) == "resolved"}
        answer = await answer_of(fhir, record, wording)
        cited = truth.cited(answer)
        if resolved:
            assert cited and cited <= resolved, (wording, answer)
        else:
            assert not cited, (wording, answer)


@pytest.mark.parametrize("wording", WORDINGS)
async def test_a_dose_question_cites_the_drugs_orders(
    fhir: FhirClient, dataset: Dataset, wording: str
) -> None:
    asked = 0
    for record in dataset.patients[:6]:
        orders = [r for r in record.of("MedicationRequest") if r.get("status") == "active"]
        names = [
            str(c.get("display", ""))
            for r in orders
            for c in (r.get("medicationCodeableConcept") or {}).get("coding") or []
        ]
        single = [n for n in names if n and n.split()[0].isalpha() and len(n.split()[0]) > 5]
        if not single:
            continue
        drug = single[0].split()[0].lower()
        mentioning = {
            truth.ref(r)
            for r in record.of("MedicationRequest")
            if drug in str(r.get("medicationCodeableConcept", {})).lower()
        }
        question = wording.format(drug=drug)
        answer = await answer_of(fhir, record, question)
        assert not answer.startswith("No"), (question, answer)
        cited = truth.cited(answer)
        assert cited and cited <= mentioning, (question, answer)
        asked += 1
    assert asked >= 3


SEEN_WORDINGS = [
    "when did she last see a doctor?",
    "when was the last time she saw the doctor?",
    "why did she last see the doctor?",
    "when did she last visit her GP?",
]


@pytest.mark.parametrize("wording", SEEN_WORDINGS)
async def test_seeing_the_doctor_is_a_visit(
    fhir: FhirClient, dataset: Dataset, wording: str
) -> None:
    """'See the doctor' is an encounter (before: "could not match 'doctor'")."""
    for record in dataset.patients[:4]:
        encounters = record.of("Encounter")
        newest = max(str((e.get("period") or {}).get("start", "")) for e in encounters)
        latest = {
            truth.ref(e) for e in encounters if (e.get("period") or {}).get("start") == newest
        }
        answer = await answer_of(fhir, record, wording)
        assert truth.cited(answer) & latest, (wording, answer)


@pytest.mark.parametrize("wording", ["any history of cancer?", "has she had cancer?"])
async def test_a_screening_visit_is_no_evidence_of_the_disorder(
    fhir: FhirClient, dataset: Dataset, wording: str
) -> None:
    """An "Encounter for check up … for Screening for malignant neoplasm of colon" is no
    "yes" to cancer (before: it was the first line of the "Yes")."""
    screened = 0
    for record in dataset.patients:
        screening = {
            truth.ref(e)
            for e in record.of("Encounter")
            if "screening" in str(e.get("reasonCode", "")).lower()
        }
        if not screening:
            continue
        answer = await answer_of(fhir, record, wording)
        assert not truth.cited(answer) & screening, (wording, answer)
        screened += 1
    assert screened
