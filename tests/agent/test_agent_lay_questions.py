"""Clinician phrasing the rule path must read as a colleague would, on real Synthea patients.

Lay words for a disorder ("high BP problem?", "any heart trouble?") ask whether it is
diagnosed, not for a result; a screening test is no evidence of the disorder; a
what-question gets a list, not "Yes"; social history reads like a chart; a "why" names
the order's reason; ward slang ("probs") is understood.  Every expectation is computed
here from the bundle JSON, never through the tools; the agent runs without a model.
"""

from __future__ import annotations

import re

import pytest

from fhir_client import FhirClient
from tests.support import agent_truth as truth
from tests.support.agent_ask import ask_agent
from tests.support.tools_datasets import Dataset, PatientRecord

DATASETS = ("fixtures", "spezi")
pytestmark = pytest.mark.slow  # two datasets loaded, ~40 questions: ~30 s


async def _ask(fhir: FhirClient, record: PatientRecord, question: str) -> str:
    output = await ask_agent(fhir, record, question)
    assert output.answer.strip(), question  # an answer is never empty
    return str(output.answer)


def _displays(record: PatientRecord, resource_type: str) -> list[tuple[str, str]]:
    out = []
    for resource in record.of(resource_type):
        codings = (resource.get("code") or {}).get("coding") or [{}]
        out.append((str(codings[0].get("display", "")).lower(), truth.ref(resource)))
    return out


def _has_condition(record: PatientRecord, *words: str) -> bool:
    displays = [display for display, _ in _displays(record, "Condition")]
    return any(re.search(rf"\b{w}\b", display) for display in displays for w in words)


def _first_word(answer: str) -> str:
    return answer.split(":", 1)[0].split()[0].lower()


async def test_lay_words_for_a_disorder_ask_whether_it_is_diagnosed(
    fhir: FhirClient, dataset: Dataset
) -> None:
    with_htn = [r for r in dataset.patients if _has_condition(r, "hypertension")]
    without = [r for r in dataset.patients if not _has_condition(r, "hypertension")]
    for record in [*with_htn[:1], *without[:1]]:
        answer = await _ask(fhir, record, "high BP problem?")
        expected = "yes" if record in with_htn else "no"
        assert _first_word(answer) == expected, answer
        assert not [r for r in truth.cited(answer) if r.startswith("Observation/")], answer
    heart = ("heart", "cardiac", "coronary", "myocardial", "atrial fibrillation")
    for record in dataset.patients[:3]:
        answer = await _ask(fhir, record, "any heart trouble?")
        assert _first_word(answer) == ("yes" if _has_condition(record, *heart) else "no"), answer
        # "Troponin I.cardiac panel" shares a word, but a result is not a diagnosis.
        assert all(r.startswith(("Condition/", "Encounter/")) for r in truth.cited(answer))


async def test_a_screening_test_is_no_evidence_of_the_disorder(
    fhir: FhirClient, dataset: Dataset
) -> None:
    for record in dataset.patients:
        screenings = {
            ref
            for display, ref in _displays(record, "Procedure")
            if "diabetes" in display and "screening" in display
        }
        if not screenings:
            continue
        answer = await _ask(fhir, record, "is she diabetic?")
        assert not truth.cited(answer) & screenings, answer
        diabetic = _has_condition(record, "diabetes", "diabetic", "prediabetes")
        assert _first_word(answer) == ("yes" if diabetic else "no"), answer


async def test_smoking_status_reads_like_a_chart(fhir: FhirClient, dataset: Dataset) -> None:
    for record in dataset.patients[:2]:
        statuses = sorted(
            (o for o in record.of("Observation") if "72166-2" in str(o.get("code"))),
            key=truth.day,
        )
        if not statuses:
            continue
        status = statuses[-1]["valueCodeableConcept"]["coding"][0]["display"]
        status = re.sub(r" \(finding\)$", "", status)
        answer = await _ask(fhir, record, "pt ever smoke?")
        assert answer.startswith(f"Smoking status: {status}"), answer
        assert truth.ref(statuses[-1]) in truth.cited(answer)


async def test_a_what_question_about_a_purpose_is_a_list_not_a_yes(
    fhir: FhirClient, dataset: Dataset
) -> None:
    for record in dataset.patients[:3]:
        answer = await _ask(fhir, record, "whats she on for her bp")
        assert not answer.lower().startswith("yes"), answer


async def test_why_a_drug_names_the_reason_its_order_gives(
    fhir: FhirClient, dataset: Dataset
) -> None:
    conditions = {truth.ref(c): c for r in dataset.patients for c in r.of("Condition")}
    asked = 0
    for record in dataset.patients:
        for order in record.of("MedicationRequest"):
            targets = [x.get("reference") for x in order.get("reasonReference") or []]
            reasons = [conditions[t] for t in targets if t in conditions]
            concept = order.get("medicationCodeableConcept") or {}
            name = str((concept.get("coding") or [{}])[0].get("display", ""))
            ingredient = re.sub(r"^[\d.]+ (?:ML|HR) ", "", name).split(" ")[0].lower()
            if not reasons or not ingredient.isalpha() or asked >= 2:
                continue
            same = [
                o
                for o in record.of("MedicationRequest")
                if ingredient in str(o.get("medicationCodeableConcept")).lower()
            ]
            if len(same) != 1:
                continue  # one order of that drug: one definite reason
            asked += 1
            answer = await _ask(fhir, record, f"why is the patient on {ingredient}?")
            reason = reasons[0]["code"]["coding"][0]["display"]
            assert re.sub(r" \(disorder\)$", "", reason) in answer, answer
    assert asked, "no order with a reason in this set"


async def test_ward_slang_for_the_problem_list(fhir: FhirClient, dataset: Dataset) -> None:
    for record in dataset.patients[:4]:
        answer = await _ask(fhir, record, "any hypertension on the probs?")
        expected = "yes" if _has_condition(record, "hypertension") else "no"
        assert _first_word(answer) == expected, answer


async def test_a_scope_is_an_endoscopy_and_the_organ_narrows_it(
    fhir: FhirClient, dataset: Dataset
) -> None:
    """ "Colon scoped" shares no word with "Colonoscopy": the word forms join "scoped" to
    the -scopy procedures and the organ word that begins one ("colon") narrows them."""
    scoped = [
        r for r in dataset.patients if any("colonoscopy" in d for d, _ in _displays(r, "Procedure"))
    ]
    unscoped = [r for r in dataset.patients if r not in scoped]
    for record in [*scoped[:2], *unscoped[:1]]:
        answer = await _ask(fhir, record, "has she ever had her colon scoped?")
        expected = {ref for d, ref in _displays(record, "Procedure") if "colonoscopy" in d}
        assert _first_word(answer) == ("yes" if expected else "no"), answer
        assert truth.cited(answer) <= expected, answer
        if expected:
            assert truth.cited(answer), answer
